"""The team server's HTML pages (:mod:`stanceterm.teamserver`): the landing page, the refusal,
"nothing to review", the page that hosts a screen (xterm.js from textual-serve's static files)
and the lead's dashboard, which fills its tables with ``textContent`` (names are data, never
markup). Templates only: whatever is put into them is escaped by the caller
(:func:`html.escape`)."""

from __future__ import annotations

import html

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{head}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #0c181f; color: #e8eef2; margin: 2em; }}
a {{ color: #8fd3ff; }} table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ padding: .3em .8em; border-bottom: 1px solid #2a3d48; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.muted {{ color: #93a4ad; font-size: .9em; }}
</style></head>
<body>{body}</body></html>
"""


def page(title: str, body: str, head: str = "") -> str:
    return _PAGE.format(title=html.escape(title), body=body, head=head)


LANDING = page(
    "stanceterm",
    "<h1>stanceterm</h1><p>This is a stanceterm annotation server. To take part, ask your lead "
    "for a personal link.</p>",
)

REFUSED = page(
    "stanceterm: link not valid",
    "<h1>This link is not valid</h1><p>It may have been mistyped or revoked. Ask your lead for "
    "a personal link.</p>",
)

NOTHING_TO_REVIEW = page(
    "stanceterm: nothing to review",
    "<h1>Nothing to review yet</h1><p>No sentence has two annotators who disagree, and no "
    "annotator has flagged one. The review screen opens here as soon as there is one: "
    '<a href="">check again</a> later.</p>',
)

APP_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<script src="/static/js/textual.js"></script>
<style>
body {{ background: #0c181f; margin: 0; }}
.textual-terminal {{ width: 100vw; height: 100vh; }}
.dialog-container {{ position: absolute; width: 100vw; height: 100vh; display: flex;
  align-items: center; justify-content: center; z-index: 10; }}
.intro {{ padding: 2em 3em; font-family: monospace; color: #eee; background: #12232d; }}
body.-first-byte .intro-dialog {{ display: none; }}
.closed-dialog {{ display: none; }}
body.-closed .closed-dialog {{ display: flex; }}
body .textual-terminal {{ opacity: 0; }}
body.-first-byte .textual-terminal {{ opacity: 1; }}
</style></head>
<body>
<div class="dialog-container intro-dialog"><div class="intro">{title}: starting…</div></div>
<div class="dialog-container closed-dialog"><div class="intro">Session ended.
 <a href="/" style="color:#8fd3ff">Start again</a></div></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{ws_url}"
 data-font-size="{font_size}"></div>
</body></html>
"""

DASHBOARD = """
<h1>stanceterm · team</h1>
<p class="muted">Signed in as lead <b id="who">{who}</b>. Progress refreshes every {poll} s;
agreement is recomputed at most once a minute (no bootstrap: run <code>stanceterm agreement</code>
for intervals). <a href="/review">Open the review screen</a>.</p>
<h2>Annotators</h2>
<table id="team"><thead><tr><th>annotator</th><th>finished</th><th>queue</th><th>done</th>
<th>skipped</th><th>flagged</th><th>draft</th><th>labels/h</th><th>last change (UTC)</th></tr>
</thead>
<tbody></tbody></table>
<p>Labels in total (drafts too): <b id="total">…</b> · <span class="muted" id="updated"></span></p>
<h2>Agreement so far</h2>
<p class="muted" id="agreement-note">computing…</p>
<table id="agreement"><thead><tr><th>field</th><th>level</th><th>α</th><th>% agree</th>
<th>units</th><th>annotators</th></tr></thead><tbody></tbody></table>
<p class="muted">Review: <a href="/review">the review screen</a> walks the disagreements and
flags.</p>
<h2>Links</h2>
<p class="muted">Give a personal link (on the server's machine):
<code>{invite} [--role annotator|adjudicator|lead]</code>; list them with
<code>invite --list</code>, revoke one with <code>invite --revoke NAME</code>.</p>
<script>
function cell(row, text) {{ const td = document.createElement("td");
  td.textContent = text; row.appendChild(td); }}
function fill(id, rows) {{ const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(); for (const r of rows) {{ const tr = document.createElement("tr");
  for (const v of r) cell(tr, v); body.appendChild(tr); }} }}
async function refresh() {{
  try {{
    const resp = await fetch("/api/dashboard", {{credentials: "same-origin"}});
    if (!resp.ok) {{ document.getElementById("updated").textContent =
      "not allowed (" + resp.status + "): open your personal link again"; return; }}
    const d = await resp.json();
    fill("team", d.team.map(t => [t.annotator, t.finished, t.queue ?? "-", t.done, t.skipped,
      t.flagged, t.draft, t.rate ?? "-", t.last_change ?? "-"]));
    document.getElementById("total").textContent = d.total_labels;
    document.getElementById("updated").textContent = "updated " + d.now;
    const a = d.agreement;
    document.getElementById("agreement-note").textContent = a.note;
    fill("agreement", a.fields.map(f => [f.field, f.level, f.alpha ?? "n/a",
      f.percent_agreement ?? "n/a", f.units, f.annotators]));
  }} catch (e) {{ document.getElementById("updated").textContent = "server unreachable"; }}
}}
refresh(); setInterval(refresh, {poll_ms});
</script>
"""
