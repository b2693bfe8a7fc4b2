"""screenpilot: automate desktop and Android GUIs with an on-device vision-language model."""

__version__ = "0.1.0"
