"""Dataset makers: ScreenSpot-format datasets rendered from real apps under Xvfb."""
