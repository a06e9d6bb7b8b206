"""PaperZoo plugin for N-BEATS: Neural basis expansion analysis for interpretable time series forecasting (in progress: provides nothing yet)."""
