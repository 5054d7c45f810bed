"""The replay page, and the seats of the binaries that write it (`hanabi_replay`, `hanabi_play`).

The page is one self-contained HTML file (inline style and script, nothing fetched) that
steps through a `bad.hanabi.replay` record with buttons and the arrow keys.

The page opens at the move named by its URL hash (`#12`, `#last`) and writes what it shows
into `#status` (`ok: 12/40 moves played, score 7`, or `error: ...` on a script error), so a
headless browser can check it from the DOM alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from bad.hanabi import agents
from bad.hanabi import replay as hanabi_replay
from experiments import common
from infra.files import atomic_write

_STYLE = """
body{font:14px system-ui,sans-serif;margin:12px;color:#222;background:#fafafa}
h1{font-size:18px;margin:4px 0}
.row{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
.box{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;margin:6px 0}
button{font-size:14px;padding:2px 10px}
.card{display:inline-block;border:1px solid #ccc;border-radius:5px;padding:4px;margin:3px;
  vertical-align:top;text-align:center;background:#fff}
.true{font-weight:bold;font-size:16px}
.told{font-size:12px;color:#555}
table.grid{border-collapse:collapse;margin:2px}
table.grid td{width:11px;height:11px;border:1px solid #eee;padding:0}
table.grid td.truth{outline:2px solid #e00;outline-offset:-2px}
.cap{font-size:10px;color:#666}
.actor{background:#fff6d8}
.bar{display:inline-block;height:9px;background:#4a7bd0;vertical-align:middle}
"""

_SCRIPT = r"""
const DATA = JSON.parse(document.getElementById('record').textContent);
const REC = DATA.records[0];
const CSS = {R: '#d33', Y: '#c90', G: '#2a2', W: '#777', B: '#36c'};
const ranks = REC.game.ranks, colors = REC.colors, steps = REC.steps;
const last = steps.length;  // index `last` shows the board after the final move
let at = 0;
const el = (id) => document.getElementById(id);
function cardName(v) {
  if (v < 0) return '--';
  return colors[Math.floor(v / ranks)] + (v % ranks + 1);
}
function colored(v) {
  if (v < 0) return '<span>--</span>';
  return `<span style="color:${CSS[colors[Math.floor(v / ranks)]]}">${cardName(v)}</span>`;
}
function grid(probs, truth, title) {
  let html = `<div class="cap">${title}</div><table class="grid">`;
  for (let c = 0; c < colors.length; c++) {
    html += '<tr>';
    for (let r = 0; r < ranks; r++) {
      const v = c * ranks + r, p = probs[v];
      const shade = `rgba(40,90,200,${Math.sqrt(Math.min(1, p)).toFixed(3)})`;  // faint odds show
      html += `<td title="${cardName(v)}: ${p.toFixed(3)}" style="background:${shade}"` +
        (v === truth ? ' class="truth"' : '') + '></td>';
    }
    html += '</tr>';
  }
  return html + '</table>';
}
function told(hint) {
  const c = hint[0] === null ? '?' : colors[hint[0]];
  const r = hint[1] === null ? '?' : String(hint[1] + 1);
  return c + r;
}
function board(s) {
  const fw = s.fireworks.map((n, c) =>
    `<b style="color:${CSS[colors[c]]}">${colors[c]}${n}</b>`).join(' ');
  const discards = [];
  s.discards.forEach((n, v) => { for (let i = 0; i < n; i++) discards.push(colored(v)); });
  return `fireworks ${fw} &nbsp; info <b>${s.information_tokens}</b>/` +
    `${REC.game.max_information_tokens} &nbsp; lives <b>${s.life_tokens}</b>/` +
    `${REC.game.max_life_tokens} &nbsp; deck <b>${s.deck_size}</b> &nbsp; score <b>` +
    `${s.score}</b>/${REC.max_score}<br>discards: ${discards.join(' ') || 'none'}`;
}
function hands(s, step) {
  let html = '';
  s.hands.forEach((hand, seat) => {
    const actor = step && step.player === seat;
    html += `<div class="box${actor ? ' actor' : ''}"><b>P${seat}</b> ` +
      `(${REC.seats[seat]})${actor ? ' to move' : ''}<br>`;
    hand.forEach((v, slot) => {
      if (v < 0) return;
      html += `<div class="card"><div class="true">${colored(v)}</div>` +
        `<div class="told">told ${told(s.hinted[seat][slot])}</div>`;
      if (step) {
        html += '<div class="row" style="gap:4px">' +
          grid(step.belief[seat][slot], v, REC.belief_names[step.belief_seat].toUpperCase()) +
          grid(step.v0[seat][slot], v, 'V0') + '</div>';
      }
      html += '</div>';
    });
    html += '</div>';
  });
  return html;
}
function plot() {
  const w = 560, h = 120, pad = 28;
  const per = (k) => steps.map((s) => s.cross_entropy[k] / Math.max(s.cards, 1));
  const v0 = per('v0'), agent = per('agent');
  const top = Math.max(1e-6, ...v0, ...agent);
  const x = (i) => pad + (w - 2 * pad) * i / Math.max(last, 1);
  const y = (v) => h - pad + (2 * pad - h) * v / top;
  const line = (vals, color) => `<polyline fill="none" stroke="${color}" stroke-width="2" ` +
    `points="${vals.map((v, i) => x(i).toFixed(1) + ',' + y(v).toFixed(1)).join(' ')}"/>`;
  const name = REC.belief_names[steps[0].belief_seat].toUpperCase();
  el('plot').innerHTML = `<svg width="${w}" height="${h}" id="svg">` +
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>` +
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#999"/>` +
    line(v0, '#999') + line(agent, '#285ac8') +
    `<line id="marker" y1="${pad}" y2="${h - pad}" stroke="#e00"/>` +
    `<text x="${pad}" y="14" font-size="11">per-card cross-entropy (nats): ` +
    `<tspan fill="#285ac8">${name}</tspan> against <tspan fill="#777">V0</tspan></text>` +
    `<text x="${pad - 4}" y="${pad + 4}" font-size="10" text-anchor="end">` +
    `${top.toFixed(1)}</text><text x="${w - pad}" y="${h - 8}" font-size="10" ` +
    `text-anchor="end">move</text></svg>`;
  el('svg').addEventListener('click', (e) => {
    const box = el('svg').getBoundingClientRect();
    show(Math.round((e.clientX - box.left - pad) / (w - 2 * pad) * last));
  });
}
function show(index) {
  at = Math.max(0, Math.min(last, index));
  const step = at < last ? steps[at] : null;
  const s = step || REC.final;
  el('board').innerHTML = board(s);
  el('hands').innerHTML = hands(s, step);
  if (step) {
    const tops = step.top_moves.map((m) => `<div><span class="bar" style="width:` +
      `${Math.round(80 * m.prob)}px"></span> ${(100 * m.prob).toFixed(1)}% ${m.text}</div>`);
    el('move').innerHTML = `<b>move ${at + 1}:</b> ${step.move}` +
      (tops.length ? `<div class="cap">P${step.player}'s most likely moves:</div>` +
        tops.join('') : '');
  } else {
    el('move').innerHTML = `<b>game over: final score ${REC.score}/${REC.max_score}</b>`;
  }
  const mx = el('marker');
  if (mx) {
    const w = 560, pad = 28, xx = pad + (w - 2 * pad) * Math.min(at, last) / Math.max(last, 1);
    mx.setAttribute('x1', xx); mx.setAttribute('x2', xx);
  }
  el('counter').textContent = `${at}/${last} moves played`;
  if (!el('status').textContent.startsWith('error')) {
    el('status').textContent = `ok: ${at}/${last} moves played, score ${s.score}` +
      (step ? '' : `, final score ${REC.score}`);
  }
}
window.addEventListener('error', (e) => { el('status').textContent = 'error: ' + e.message; });
el('first').onclick = () => show(0);
el('prev').onclick = () => show(at - 1);
el('next').onclick = () => show(at + 1);
el('end').onclick = () => show(last);
document.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowLeft') show(at - 1);
  if (e.key === 'ArrowRight') show(at + 1);
  if (e.key === 'Home') show(0);
  if (e.key === 'End') show(last);
});
el('title').textContent = `Hanabi replay: ${REC.seats.join(' vs ')}, ` +
  `final score ${REC.score}/${REC.max_score}`;
plot();
const hash = location.hash.slice(1);
show(hash === 'last' ? last : (parseInt(hash, 10) || 0));
"""

_BODY = """<h1 id="title">Hanabi replay</h1>
<div class="box" id="plot"></div>
<div class="box"><button id="first">|&#x25C0;</button> <button id="prev">&#x25C0;</button>
<span id="counter"></span> <button id="next">&#x25B6;</button> <button id="end">&#x25B6;|</button>
<span class="cap">(arrow keys step) &nbsp; </span><span class="cap" id="status">loading</span></div>
<div class="box" id="board"></div>
<div class="box" id="move"></div>
<div id="hands"></div>
<p class="cap">Each card: its true card, what its owner was told (color, rank; ? when not), the
public belief of the agent in the seat to move (left, the true card outlined) and the count-only
belief V0 (right); rows are colors, columns ranks, shade the square root of the
probability.</p>
"""


def render(records: Sequence[Mapping[str, Any]]) -> str:
    """The page of the first of `records` (`bad.hanabi.replay.play_game` records)."""
    # "</" inside the JSON would close the script element early.
    data = json.dumps({"records": list(records[:1])}, separators=(",", ":")).replace("</", "<\\/")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Hanabi replay</title>"
            f"<style>{_STYLE}</style></head><body>\n{_BODY}"
            f"<script type=\"application/json\" id=\"record\">{data}</script>\n"
            f"<script>{_SCRIPT}</script>\n</body></html>\n")


def load_seats(names: Sequence[str], person: int | None = None
               ) -> tuple[list[agents.Agent | None], list[str]]:
    """(The `Agent` of every seat, their names) from `names` (pretrained names or files; one for
    all seats or one per seat but the person's), with `hanabi_replay.PERSON` at seat `person`;
    one `Agent` per distinct name, so that its belief is computed once."""
    if not names or not all(names):
        raise common.ExperimentError("--agents must name at least one agent (a pretrained name "
                                     f"of {', '.join(agents.PRETRAINED)} or an agent file).")
    loaded = {name: agents.load_pretrained(name) if name in agents.PRETRAINED
              else agents.load_agent(name) for name in dict.fromkeys(names)}
    games = {agent.config.game for agent in loaded.values()}
    if len(games) > 1:
        raise common.ExperimentError(f"--agents must all play one game; got {len(games)} "
                                     "different parameter sets.")
    players = next(iter(games)).players
    if person is not None and not 0 <= person < players:
        raise common.ExperimentError(f"--seat must be in [0, {players - 1}], got {person}.")
    others = players - (person is not None)
    if len(names) not in (1, others):
        raise common.ExperimentError(f"--agents must name 1 or {others} agents for the "
                                     f"{players}-player game, got {len(names)}.")
    seat_names = [names[0] if len(names) == 1 else names[index] for index in range(others)]
    chosen: list[agents.Agent | None] = [loaded[name] for name in seat_names]
    seat_names = [os.path.basename(name) for name in seat_names]
    if person is not None:
        chosen.insert(person, hanabi_replay.PERSON)
        seat_names.insert(person, "person")
    return chosen, seat_names


def write_page(output_dir: str, records: list[dict]) -> str:
    """Writes `replay.html` of the first record; returns its path."""
    path = os.path.join(output_dir, "replay.html")
    html = render(records)
    atomic_write(path, lambda handle: handle.write(html))
    return path
