# Autotune of the chamber loop (docs/commissioning.md). Lazy-loaded: the
# link's tune_start (crf.link.cmd_tune) imports the modules it needs, the
# start's own module and the identification (identify, rule, conclude) are
# dropped as soon as they have run, and the whole package leaves sys.modules
# when the tune ends (result.unload), so it takes no heap between tunes.
