"""Photo quality findings: which measures are judged, thresholds calibrated per view, the
threshold file, the calibration histograms and the findings ``validate`` reports.

The measures themselves are probe columns (``probe/quality.py`` computes them in the one
decode); this package only reads the table. Import the submodules directly: this file imports
nothing, so ``validate --help`` stays light.
"""
