"""Line protocol v0 basics, over the serial link only."""


def fields(reply, head):
    """'OK id model=x fw=y' -> {'model': 'x', 'fw': 'y'}."""
    assert reply.startswith(head + " "), reply
    out = {}
    for tok in reply[len(head) + 1:].split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def test_id_names_model_firmware_and_board(link):
    f = fields(link.ask("id"), "OK id")
    for key in ("model", "fw", "board"):
        assert f.get(key), f"id reply lacks {key}=: {f}"


def test_status_is_idle_at_boot(link):
    reply = link.ask("status")
    assert reply.startswith("OK status "), reply
    assert "state=idle" in reply.split()


def test_unknown_command_is_an_error(link):
    assert link.ask("frobnicate 42").startswith("ERR "), "unknown command accepted"


def test_link_survives_an_error(link):
    link.ask("frobnicate")
    assert link.ask("id").startswith("OK id ")


def test_standard_profiles_are_listed(link):
    reply = link.ask("profile list")
    assert reply.startswith("OK profiles "), reply
    names = set(reply[len("OK profiles "):].strip().split(","))
    assert {"hpc_bag", "selftest", "vial"} <= names, names
