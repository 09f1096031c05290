// dobae review: keyboard shortcuts and the JSON calls. Text from the server is only ever put in
// the page with textContent (never innerHTML), so crawled HTML shows as text.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const card = $("card");
  const who = $("reviewer");
  who.value = localStorage.getItem("dobae-reviewer") || who.value;
  who.addEventListener("change", () => localStorage.setItem("dobae-reviewer", who.value.trim()));

  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { data = { error: res.status + " " + res.statusText }; }
    return { status: res.status, data };
  }

  function say(text) {
    const m = $("message");
    m.textContent = text;
    m.hidden = false;
  }

  function go(url) { window.location.assign(url || card.dataset.self); }

  function showConflict(c) {
    $("conflict-by").textContent = c.by || "someone";
    $("conflict-at").textContent = c.at || "";
    $("conflict-status").textContent = c.status || "";
    $("conflict-question").textContent = c.question || "";
    $("conflict-answer").textContent = c.answer || "";
    $("conflict").hidden = false;
    document.body.dataset.conflict = "1";
  }

  async function act(action, extra) {
    if (!card || document.body.dataset.busy) return;
    document.body.dataset.busy = "1";
    const body = Object.assign({
      action: action,
      version: Number(card.dataset.version),
      seen_event: Number(card.dataset.seenEvent),
      reviewer: who.value.trim(),
      note: $("note").value,
    }, extra || {});
    const { status, data } = await post("/api/pairs/" + card.dataset.id, body);
    delete document.body.dataset.busy;
    if (status === 200) {
      if (action === "edit") go(card.dataset.self); else go(card.dataset.next || card.dataset.list);
    } else if (status === 409) {
      showConflict(data.conflict || {});
    } else {
      say("not saved: " + (data.error || status));
    }
  }

  function editing() { return !$("edit-answer").hidden; }

  function toggleEdit(on) {
    for (const id of ["question", "answer"]) {
      $(id).hidden = on;
      $("edit-" + id).hidden = !on;
    }
    $("save").hidden = !on;
    if (on) $("edit-answer").focus();
  }

  function save() {
    act("edit", { question: $("edit-question").value, answer: $("edit-answer").value });
  }

  async function bulk() {
    const button = $("bulk");
    const filters = JSON.parse(button.dataset.filters);
    const preview = await post("/api/bulk/preview", filters);
    if (preview.status !== 200) { say("not counted: " + (preview.data.error || preview.status)); return; }
    const n = preview.data.count;
    if (!n) { say("nothing to approve in this filter"); return; }
    if (!window.confirm("Approve all " + n + " pairs of this filter?")) return;
    const done = await post("/api/bulk/approve", { pairs: preview.data.pairs, reviewer: who.value.trim(), filters: filters });
    if (done.status === 200) { window.location.assign(button.dataset.list); } else { say("nothing approved: " + (done.data.error || done.status)); }
  }

  if (card) {
    $("approve").addEventListener("click", () => act("approve"));
    $("reject").addEventListener("click", () => act("reject"));
    $("needs-review").addEventListener("click", () => act("needs_review"));
    $("edit").addEventListener("click", () => toggleEdit(!editing()));
    $("save").addEventListener("click", save);
    $("reload").addEventListener("click", () => go(card.dataset.self));
    $("note").addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); act("needs_review"); }
      if (e.key === "Escape") $("note").blur();
    });
  }
  const bulkButton = $("bulk");
  if (bulkButton) bulkButton.addEventListener("click", bulk);

  document.addEventListener("keydown", (e) => {
    if (!card) return;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (editing() && e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); return; }
    if (editing() && e.key === "Escape") { toggleEdit(false); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      a: () => act("approve"),
      r: () => act("reject"),
      e: () => toggleEdit(true),
      n: () => $("note").focus(),
      j: () => card.dataset.next && go(card.dataset.next),
      k: () => card.dataset.prev && go(card.dataset.prev),
      l: () => go(card.dataset.self),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
})();
