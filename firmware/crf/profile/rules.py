# Format defaults the profile engine applies at run time, kept apart from the
# validator so the engine does not keep the validator's code in the heap.
PROBE_DEFAULT = {"hold": "chamber", "ramp": "chamber", "wait": "sample"}

# Heat-of-fusion compensation defaults (ranges are the validator's).
COMP_DETECT_RISE_C = 0.3
COMP_MAX_S = 600
