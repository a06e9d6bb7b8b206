"""PaperZoo plugin for FAN: Fourier Analysis Networks (in progress: provides nothing yet)."""
