"""Paper figures: one script per figure; ``python -m shortrun.paper_figures`` makes them all."""
