"""Repo ids, revisions and file names are checked before any cache or network access: a revision
is a branch or tag name or a 40-hex commit, never a path (the Hub client writes the cache's
refs/<revision> file under the name it is given)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo
from zoo.errors import HubError
from zoo.hub import check_filename, check_repo_id, check_revision, fetch_file, list_repo_files, parse_hub_uri

GOOD_REVISIONS = ["main", "v1.0", "refs/pr/1", "0123456789abcdef0123456789abcdef01234567", "feature/x-y", "release_2"]
BAD_REVISIONS = {
    "/tmp/x/ABS_REV": "starts or ends with '/'",
    "../../../../../TRAVERSED_REV": "'..'",
    "main/../../x": "'..'",
    "": "empty",
    "a b": "' '",
    ".hidden": "starts with '.'",
    "refs/.x": "starts with '.'",
    "x.lock": "'.lock'",
    "a//b": "'//'",
    "x/": "starts or ends with '/'",
    "@": "'@'",
    "a@{1}": "'@{'",
    "x" * 300: "longer than 255",
    "a\x00b": "'\\x00'",
    "c:\\x": "':'",
    "x\\y": "'\\\\'",
    "~x": "'~'",
    "end.": "ends with '.'",
}


@pytest.mark.parametrize("revision", GOOD_REVISIONS)
def test_branch_tag_and_commit_names_pass(revision):
    assert check_revision(revision) == revision


@pytest.mark.parametrize("revision, rule", BAD_REVISIONS.items())
def test_bad_revisions_are_refused_naming_the_rule(revision, rule):
    with pytest.raises(HubError, match="invalid revision") as caught:
        check_revision(revision)
    assert rule in str(caught.value)


@pytest.mark.parametrize("value", [5, None, b"main", ["main"]])
def test_revision_must_be_a_string(value):
    with pytest.raises(HubError, match="revision must be a string"):
        check_revision(value)


@pytest.mark.parametrize("repo_id", ["../x", "org/../x", "/abs", "a/b/c", "", "org/na me", 7])
def test_bad_repo_ids_are_refused(repo_id):
    with pytest.raises(HubError, match="repo id"):
        check_repo_id(repo_id)


@pytest.mark.parametrize("filename", ["../x", "/etc/passwd", "a//b", "a\\b", "a/./b", "", "x\x01"])
def test_bad_file_names_are_refused(filename):
    with pytest.raises(HubError, match="invalid file name"):
        check_filename(filename)


def test_uri_parts_are_named_in_the_error():
    with pytest.raises(HubError, match=r"'hf-hub:org/good@/tmp/x': invalid revision '/tmp/x'"):
        parse_hub_uri("hf-hub:org/good@/tmp/x")
    with pytest.raises(HubError, match="invalid revision '': it is empty"):
        parse_hub_uri("hf-hub:org/good@")
    assert parse_hub_uri("hf-hub:org/good@refs/pr/3") == ("org/good", "refs/pr/3")
    assert parse_hub_uri("hf-hub:org/good") == ("org/good", None)


class _AnswersEverything:
    """An endpoint on 127.0.0.1 that counts every request (and answers each with a file), so a test
    can show that a refused name never reached the network."""

    def __init__(self):
        self.requests: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, body: bool):
                owner.requests.append(self.path)
                data = b'{"format": "paperzoo"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Repo-Commit", "0" * 40)
                self.send_header("ETag", '"abc"')
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_HEAD(self):
                self._answer(False)

            def do_GET(self):
                self._answer(True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("revision", ["/tmp/x/ABS_REV", "../../../../../TRAVERSED_REV", "main/../../.."])
def test_traversing_revisions_never_reach_the_cache_or_the_network(revision, tmp_path, monkeypatch):
    cache = tmp_path / "deep" / "er" / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with _AnswersEverything() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(HubError, match="invalid revision"):
            zoo.load(f"hf-hub:org/good@{revision}")
        with pytest.raises(HubError, match="invalid revision"):
            fetch_file("org/good", "config.json", revision)
        with pytest.raises(HubError, match="invalid revision"):
            list_repo_files("org/good", revision)
        assert hub.requests == []
    assert not cache.exists()
    assert [p for p in tmp_path.rglob("*") if "REV" in p.name] == []


def test_bad_file_names_never_reach_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with _AnswersEverything() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(HubError, match="invalid file name"):
            fetch_file("org/good", "../../outside.json", "main")
        assert hub.requests == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_revision_is_accepted_only_as_a_name(revision):
    """Whatever the string: refused with HubError, or a name that cannot leave the refs folder."""
    try:
        check_revision(revision)
    except HubError as exc:
        assert "invalid revision" in str(exc)
        return
    parts = revision.split("/")
    assert revision and not revision.startswith("/") and ".." not in parts and "" not in parts
    assert "\\" not in revision and not any(ord(c) < 32 for c in revision)
