# The link command sim_fault on the virtual freezer (simulation only): the
# faults a running virtual freezer can take (docs/safety.md). Small, and
# imported only when the command comes.


def sim_fault(board, kind, on):
    if kind in ("door", "ln2_low", "valve_stuck", "heater_stuck"):
        setattr(board, "f_" + kind, on)
    elif kind == "hang":
        board.hang = on
    elif kind[:8] == "chamber_" or kind[:7] == "sample_":
        probe, what = kind.split("_")
        board.plant.set_fault(probe, what if on else None)     # ValueError names the kinds
    else:
        raise ValueError("kind: door, ln2_low, valve_stuck, heater_stuck, hang, "
                         "chamber_/sample_ open, short or stuck")
