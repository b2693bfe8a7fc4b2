"""screenpilot: automate desktop and Android GUIs with an on-device vision-language model."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # `from agent import Agent` without importing the engine (and its deps) for the CLI
    if name == "Agent":
        from agent.api import Agent

        return Agent
    raise AttributeError(name)
