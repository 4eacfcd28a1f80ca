# Autotune of the chamber loop (docs/commissioning.md). Lazy-loaded: the
# link's tune_start imports crf.tune.session, and the session removes the
# whole package from sys.modules when the tune ends, so it takes no heap
# between tunes.
