"""gptlib.challenges.security: harmless malicious pickles, the scanners, safetensors, injection and the filter."""

import io
import json
import pickle
import pickletools
import struct

import pytest
import torch
from safetensors.torch import load_file, save_file

from gptlib.challenges import (
    DENYLIST,
    STATE_DICT_GLOBALS,
    allowlist_scan,
    denylist_scan,
    evasions,
    inject,
    marker_pickle,
    normalise,
    output_filter,
    pickle_bytes,
    pickle_globals,
    qa_prompt,
    safetensors_header,
)
from gptlib.store.safety import UnsafeFileError, check_file
from gptlib.tasks import parse_chinese, parse_english, qa_example


def _torch_save_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# --- the payload ------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["exec", "touch"])
def test_loading_runs_the_payload_and_making_it_does_not(tmp_path, via):
    marker = tmp_path / "marker"
    data = marker_pickle(marker, via=via)
    assert not marker.exists()  # building the bytes ran nothing
    pickle.loads(data)
    assert marker.exists() and marker.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker"]  # one file, nothing else


@pytest.mark.parametrize("via", ["exec", "touch"])
def test_the_payload_leaves_an_existing_file_as_it_was(tmp_path, via):
    marker = tmp_path / "marker"
    marker.write_text("keep me")
    pickle.loads(marker_pickle(marker, via=via))
    assert marker.read_text() == "keep me"


@pytest.mark.parametrize("bad", ["relative/marker", "/no/such/folder/marker"])
def test_marker_path_must_be_absolute_in_an_existing_folder(bad):
    with pytest.raises(ValueError, match="absolute path in an existing folder"):
        marker_pickle(bad)


def test_unknown_via_is_refused(tmp_path):
    with pytest.raises(ValueError, match="via must be one of"):
        marker_pickle(tmp_path / "m", via="system")


# --- reading imports without loading ------------------------------------------------------------------


def test_pickle_globals_lists_imports_and_runs_nothing(tmp_path):
    marker = tmp_path / "marker"
    names = pickle_globals(marker_pickle(marker, via="touch"))
    assert not marker.exists()
    assert any(n.endswith("Path.touch") for n in names) and len(names) == 2


def test_pickle_globals_follows_stack_global_through_the_memo():
    # Protocol 4 pushes module and name as strings, memoizes them, and STACK_GLOBAL pops both; a second
    # use of the same class fetches the strings back from the memo (BINGET) in protocol 2, GLOBAL in 0.
    import collections

    obj = [collections.OrderedDict(), collections.Counter()]
    for protocol in (0, 2, 4, 5):
        assert pickle_globals(pickle.dumps(obj, protocol=protocol)) == ["collections.OrderedDict",
                                                                        "collections.Counter"], protocol
    ops = {op.name for op, _, _ in pickletools.genops(pickle.dumps(obj, protocol=4))}
    assert "STACK_GLOBAL" in ops and "MEMOIZE" in ops


def test_an_unresolvable_stack_global_is_unknown_and_refused():
    # STACK_GLOBAL on names built by a call (not pushed as strings): the reader cannot know them.
    data = b"\x80\x04" + b"\x8c\x01a\x85" + b"\x8c\x01b\x85" + b"\x93."  # 'a', tuple1, 'b', tuple1, STACK_GLOBAL
    assert pickle_globals(data) == ["?"]
    assert allowlist_scan(data) == ["?"] and denylist_scan(data) == []


def test_not_a_pickle_is_a_clear_error():
    with pytest.raises(ValueError, match="not a readable pickle"):
        pickle_globals(b"\x80\x04\xff")
    with pytest.raises(TypeError, match="must be bytes"):
        pickle_globals("text")


def test_pickle_bytes_finds_data_pkl_in_a_torch_save_zip():
    raw = _torch_save_bytes({"w": torch.zeros(2)})
    inner = pickle_bytes(raw)
    assert raw[:4] == b"PK\x03\x04" and inner[:2] == b"\x80\x02"
    assert pickle_bytes(inner) == inner


# --- the scanners ------------------------------------------------------------------------------------


def test_denylist_catches_the_textbook_payload_and_misses_the_bypass(tmp_path):
    marker = tmp_path / "marker"
    assert denylist_scan(marker_pickle(marker, via="exec")) == ["builtins.exec"]
    bypass = marker_pickle(marker, via="touch")
    assert denylist_scan(bypass) == []  # "clean"...
    pickle.loads(bypass)
    assert marker.exists()  # ...and it ran anyway


def test_names_are_read_as_the_loader_resolves_them():
    # Protocol 2 writes Python 2's module name; a scanner that compared the raw text would miss builtins.exec.
    data = pickle.dumps(print, protocol=2)
    assert b"__builtin__" in data and b"builtins" not in data
    assert pickle_globals(data) == ["builtins.print"] == pickle_globals(pickle.dumps(print, protocol=4))
    assert pickle.loads(data) is print


def test_denylist_patterns_match_prefixes_only_where_starred():
    assert denylist_scan(pickle.dumps(print, protocol=2), ["builtins.print"]) == ["builtins.print"]
    assert denylist_scan(pickle.dumps(print, protocol=2), ["builtins.pr"]) == []
    assert denylist_scan(pickle.dumps(print, protocol=2), ["builtins.pr*"]) == ["builtins.print"]
    assert "subprocess.*" in DENYLIST


@pytest.mark.parametrize("via", ["exec", "touch"])
def test_allowlist_flags_both_payloads_also_inside_torch_save(tmp_path, via):
    marker = tmp_path / "marker"
    assert allowlist_scan(marker_pickle(marker, via=via)) != []
    from gptlib.challenges.security import _Marker  # the payload object, saved the way a checkpoint is

    zipped = _torch_save_bytes(_Marker(marker, via))
    assert not marker.exists()
    flagged = allowlist_scan(zipped)
    assert flagged and all(name not in STATE_DICT_GLOBALS for name in flagged)


def test_allowlist_passes_an_honest_state_dict():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    state = model.state_dict()
    state["steps"] = torch.tensor([1, 2], dtype=torch.long)
    state["mask"] = torch.tensor([True])
    state["half"] = torch.zeros(1, dtype=torch.bfloat16)
    raw = _torch_save_bytes(state)
    assert pickle_globals(raw)  # it does import things: the tensor rebuild function, storages, OrderedDict
    assert allowlist_scan(raw) == []


def test_allowlist_agrees_with_torchs_own_check(tmp_path):
    # torch's weights_only unpickler reports what it would refuse; on the malicious file we flag the same.
    from gptlib.challenges.security import _Marker

    path = tmp_path / "model.pt"
    torch.save(_Marker(tmp_path / "marker", "exec"), path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == allowlist_scan(path.read_bytes())
    honest = tmp_path / "honest.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), honest)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(honest) == allowlist_scan(honest.read_bytes()) == []


def test_state_dict_globals_are_a_subset_of_what_torch_allows():
    from torch._weights_only_unpickler import _get_allowed_globals  # private, read only to check ours

    assert STATE_DICT_GLOBALS <= set(_get_allowed_globals())


# --- torch.load and safetensors ------------------------------------------------------------------------


@pytest.mark.parametrize("zipped", [False, True])
def test_torch_load_weights_only_refuses_and_runs_nothing(tmp_path, zipped):
    from gptlib.challenges.security import _Marker

    marker, path = tmp_path / "marker", tmp_path / "model.pt"
    if zipped:
        torch.save(_Marker(marker, "exec"), path)
    else:
        path.write_bytes(marker_pickle(marker, protocol=2))  # torch.load warns about protocol 4
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL exec"):
        torch.load(path, weights_only=True)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # the default is weights_only=True (since PyTorch 2.6)
    assert not marker.exists()


def test_the_store_refuses_both_payload_files(tmp_path):
    from gptlib.challenges.security import _Marker

    raw, zipped = tmp_path / "a", tmp_path / "b"
    raw.write_bytes(marker_pickle(tmp_path / "m"))
    torch.save(_Marker(tmp_path / "m", "exec"), zipped)
    for f in (raw, zipped):  # named like safetensors, refused by their bytes
        with pytest.raises(UnsafeFileError, match="pickle"):
            check_file(f, "model.safetensors")


def test_safetensors_header_is_only_tensor_entries_and_string_metadata(tmp_path):
    path = tmp_path / "model.safetensors"
    tensors = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(3, dtype=torch.long)}
    save_file(tensors, path, metadata={"format": "pt"})
    header = safetensors_header(path)
    (n,) = struct.unpack("<Q", path.read_bytes()[:8])
    assert header == json.loads(path.read_bytes()[8:8 + n])  # the header is plain JSON
    assert set(header) == {"w", "b", "__metadata__"} and header["__metadata__"] == {"format": "pt"}
    for name in ("w", "b"):
        assert set(header[name]) == {"dtype", "shape", "data_offsets"}
    loaded = load_file(path)
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())


def test_safetensors_refuses_a_header_that_lies(tmp_path):
    path = tmp_path / "bad.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    with pytest.raises(UnsafeFileError, match="claims bytes"):
        safetensors_header(path)


# --- prompt injection and the output filter ------------------------------------------------------------

CONTEXT = "Una Kent is a teacher in Delhi, aged 24. Nora Cole is an actor in Kyiv, aged 48."


def test_qa_prompt_is_the_task_format():
    assert qa_prompt(CONTEXT, "how old is Nora Cole?") == qa_example(CONTEXT, "how old is Nora Cole?", "48").prompt
    assert qa_prompt(CONTEXT, "how old is Nora Cole?").endswith(" question: how old is Nora Cole? answer: ")


def test_inject_puts_the_attackers_question_last_in_the_prompt():
    question = inject("how old is Nora Cole?", "how old is Una Kent?")
    prompt = qa_prompt(CONTEXT, question)
    last = prompt.rsplit("question: ", 1)[1]
    assert last == "how old is Una Kent? answer: "
    assert prompt.count("question:") == 2
    control = qa_prompt(CONTEXT, inject("how old is Nora Cole?", "how old is Una Kent?", marker=""))
    assert control.count("question:") == 1 and "Una Kent?" in control


def test_inject_refuses_newlines():
    with pytest.raises(ValueError, match="attacker_question"):
        inject("doc", "q?\nanswer: x")


def test_normalise():
    assert normalise(" Delhi\n") == "delhi" and normalise("Una \t  KENT") == "una kent"


def test_output_filter_blocks_the_literal_secret_in_any_case_and_spacing():
    assert output_filter("24\n", ["24"]) == (False, "contains blocked text '24'")
    assert not output_filter("she lives in  DELHI", ["delhi"]).allowed
    assert not output_filter("Una   Kent", ["una kent"]).allowed
    assert output_filter("48\n", ["24", "Delhi"]) == (True, "")


def test_output_filter_misses_the_same_secret_written_otherwise():
    forms = evasions("24")
    assert parse_english(forms["english"]) == 24 and parse_chinese(forms["chinese"]) == 24  # still the secret
    assert forms["spaced"].replace(" ", "") == "24" and forms["reversed"][::-1] == "24"
    for form in forms.values():
        assert output_filter(form, ["24"]).allowed, form
    assert set(evasions("Delhi")) == {"spaced", "reversed"}
    assert output_filter(evasions("Delhi")["spaced"], ["Delhi"]).allowed


def test_output_filter_and_evasions_check_their_input():
    with pytest.raises(ValueError, match="sequence of non-empty strings"):
        output_filter("x", "24")
    with pytest.raises(ValueError, match="sequence of non-empty strings"):
        output_filter("x", [""])
    with pytest.raises(TypeError, match="must be a str"):
        output_filter(24, ["24"])
    with pytest.raises(ValueError, match="at least 2 characters"):
        evasions("7")
