// The awsgate console: approvals, the audit feed and the policy in force, from the JSON API
// under /console/api/. The operator's token stays in this tab (sessionStorage) and goes in
// an Authorization header, never in a URL or a cookie. Everything shown is set as text.
"use strict";

const state = { token: sessionStorage.getItem("awsgate-console-token") || "", feed: null, timers: [] };
const MAX_ROWS = 500;

function $(id) { return document.getElementById(id); }

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text == null ? "-" : String(text);
  if (className) td.className = className;
  return td;
}

function setStatus(text, error) {
  const status = $("status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

async function api(path, options) {
  const init = Object.assign({}, options || {});
  init.headers = Object.assign({ "Authorization": "Bearer " + state.token }, init.headers || {});
  const response = await fetch("/console/api/" + path, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
  return body;
}

// Who asked: the agent when the call names one, else the MCP client and its transport.
function who(item) {
  const client = item.client && typeof item.client === "object" ? item.client.name : item.client;
  const how = client ? client.split(" ")[0] + (item.transport ? " (" + item.transport + ")" : "") : "";
  if (item.agent) return "agent " + item.agent + (how ? " · " + how : "");
  return how || item.session;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return m >= 60 ? Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min"
    : m + ":" + String(s % 60).padStart(2, "0");
}

// Counts down each pending approval between refreshes.
function tickTimers() {
  const now = Date.now();
  for (const row of $("approvals").tBodies[0].rows) {
    const left = (row.closesAt - now) / 1000;
    const timer = row.querySelector(".left");
    if (!timer) continue;
    timer.textContent = left > 0 ? "closes in " + clock(left) : "closed";
    timer.classList.toggle("soon", left < 60);
  }
}

async function refreshApprovals() {
  const body = await api("approvals");
  const tbody = $("approvals").tBodies[0];
  const seen = new Set();
  for (const approval of body.approvals) {
    seen.add(approval.id);
    let row = tbody.querySelector('tr[data-id="' + approval.id + '"]');
    if (!row) row = addApproval(tbody, approval);
    row.closesAt = Date.now() + approval.seconds_left * 1000;
    row.querySelector(".waiting").textContent = approval.waiting ? "the agent is waiting" : "the agent will call again";
  }
  for (const row of Array.from(tbody.rows)) {
    if (seen.has(row.dataset.id)) continue;
    // Decided in another console, withdrawn by its caller, or closed: say so if the
    // operator was about to decide it here.
    if (row.querySelector(".confirm")) {
      addResult((row.approvalAction || "A call") + " is no longer waiting: it was decided elsewhere, withdrawn or timed out.", true);
    }
    row.remove();
  }
  $("approval-count").textContent = String(body.approvals.length);
  $("no-approvals").hidden = body.approvals.length > 0;
  tickTimers();
}

function button(label, className, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.className = className;
  b.addEventListener("click", onClick);
  return b;
}

function addApproval(tbody, approval) {
  const row = tbody.insertRow();
  row.dataset.id = approval.id;
  row.approvalAction = approval.action;
  cell(row, approval.asked_at);
  cell(row, who(approval)).title = "session " + approval.session;
  cell(row, approval.tool + " → " + approval.action);
  cell(row, approval.resources.join("\n"), "mono");
  cell(row, approval.statement);
  cell(row, approval.arguments, "mono");
  const time = row.insertCell();
  const left = document.createElement("div");
  left.className = "left";
  const waiting = document.createElement("div");
  waiting.className = "waiting hint";
  time.append(left, waiting);
  const decision = row.insertCell();
  decision.className = "decision";
  showChoices(decision, approval, row);
  return row;
}

// Approve and Deny, each asking for a confirmation before anything is sent.
function showChoices(decision, approval, row) {
  decision.replaceChildren(
    button("Approve", "approve", () => confirmStep(decision, approval, row, true)),
    " ",
    button("Deny", "deny", () => confirmStep(decision, approval, row, false)),
  );
}

function confirmStep(decision, approval, row, approve) {
  const question = document.createElement("p");
  question.className = "confirm";
  question.textContent = (approve ? "Approve " : "Deny ") + approval.action + " on " +
    (approval.resources.length === 1 ? approval.resources[0] : approval.resources.length + " resources") + "?";
  const parts = [question];
  let mfa = null;
  if (approve && approval.needs_mfa) {
    mfa = document.createElement("input");
    mfa.className = "mfa";
    mfa.placeholder = "MFA code";
    mfa.inputMode = "numeric";
    mfa.maxLength = 6;
    mfa.dataset.mfa = approval.id;
    parts.push(mfa, " ");
  }
  let reason = null;
  if (!approve) {
    reason = document.createElement("input");
    reason.className = "reason";
    reason.type = "text";
    reason.maxLength = 500;
    reason.placeholder = "Reason (recorded, and told to the agent)";
    reason.dataset.reason = approval.id;
    parts.push(reason, " ");
  }
  const confirm = button(approve ? "Confirm approval" : "Confirm denial", approve ? "approve" : "deny", () =>
    decide(approval, approve, { mfa: mfa, reason: reason, row: row, decision: decision, confirm: confirm }));
  confirm.dataset[approve ? "confirmApprove" : "confirmDeny"] = approval.id;
  parts.push(confirm, " ", button("Cancel", "cancel", () => showChoices(decision, approval, row)));
  const error = document.createElement("p");
  error.className = "error row-error";
  error.setAttribute("role", "alert");
  parts.push(error);
  decision.replaceChildren(...parts);
  (mfa || reason || confirm).focus();
}

function addResult(text, failed) {
  const item = document.createElement("li");
  item.textContent = new Date().toLocaleTimeString() + " " + text;
  if (failed) item.className = "error";
  $("results").prepend(item);
  while ($("results").children.length > 20) $("results").lastElementChild.remove();
}

async function decide(approval, approve, ui) {
  const payload = { approve: approve };
  if (ui.mfa && ui.mfa.value.trim()) payload.mfa_code = ui.mfa.value.trim();
  if (ui.reason && ui.reason.value.trim()) payload.reason = ui.reason.value.trim();
  ui.confirm.disabled = true;
  try {
    await api("approvals/" + encodeURIComponent(approval.id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    ui.row.remove();
    const what = approval.action + " on " + approval.resources.join(", ") + " for " + who(approval);
    addResult(approve ? "Approved " + what + ": it runs once." :
      "Denied " + what + (payload.reason ? " (" + payload.reason + ")" : "") + ": the agent is told.");
    setStatus((approve ? "approved " : "denied ") + approval.id);
    await refreshApprovals();
  } catch (error) {
    ui.confirm.disabled = false;
    const shown = ui.decision.querySelector(".row-error");
    if (shown) shown.textContent = error.message;
    addResult("Could not " + (approve ? "approve " : "deny ") + approval.action + ": " + error.message, true);
    setStatus(error.message, true);
  }
}

function filters() {
  return {
    decision: $("filter-decision").value,
    tool: $("filter-tool").value.trim(),
    session: $("filter-session").value.trim(),
  };
}

// Like the API's filter: the decision exactly, the tool and who by any part, in any case.
function contains(values, wanted) {
  if (!wanted) return true;
  const w = wanted.toLowerCase();
  return values.some((v) => typeof v === "string" && v.toLowerCase().includes(w));
}

function keeps(record, f) {
  if (f.decision === "shadow") {
    if (!record.shadow) return false;
  } else if (f.decision && record.decision !== f.decision) return false;
  if (!contains([record.tool, record.action], f.tool)) return false;
  const client = record.client && record.client.name;
  const by = record.by === "console" ? "operator" : record.by;
  if (!contains([record.session, record.agent, client, record.transport, by], f.session)) return false;
  return true;
}

// What came of a record: a call's outcome, an approval's decision and reason.
function outcome(record) {
  if (record.event === "approval_decided") return record.decision + (record.reason ? ": " + record.reason : "");
  if (record.event === "approval_withdrawn") return "withdrawn (" + record.why + ")";
  return record.outcome || (record.error ? record.error : null) || record.approval_id || record.new_policy_hash;
}

function addRecord(record) {
  const tbody = $("audit").tBodies[0];
  const row = tbody.insertRow(0);
  row.record = record;
  cell(row, record.seq);
  cell(row, record.time);
  cell(row, record.event);
  const byOperator = record.event === "approval_decided";
  const by = cell(row, byOperator ? "operator" + (record.agent ? ", for agent " + record.agent : "") : who(record));
  if (record.session) by.title = "session " + record.session;
  cell(row, record.tool);
  cell(row, record.action);
  cell(row, (record.resources || []).join("\n"), "mono");
  const decided = record.event === "approval_decided" ? "" : record.decision;
  const shown = record.shadow ? decided + " (shadow: " + record.shadow.decision + ")" : decided;
  const judged = cell(row, shown, decided === "deny" ? "deny" : decided === "allow" ? "allow" : "");
  if (record.shadow) {
    judged.classList.add("shadow");
    const would = { allow: "allow the call", deny: "deny the call", approval: "ask a human to approve the call" };
    judged.title = "The shadow policy would " + (would[record.shadow.decision] || record.shadow.decision) + ": " +
      record.shadow.reason;
  }
  cell(row, outcome(record));
  row.classList.toggle("hidden", !keeps(record, filters()));
  while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
}

function applyFilters() {
  const f = filters();
  for (const row of $("audit").tBodies[0].rows) row.classList.toggle("hidden", !keeps(row.record, f));
}

async function follow() {
  if (state.feed) state.feed.abort();
  const controller = new AbortController();
  state.feed = controller;
  const recent = await api("audit");
  $("audit").tBodies[0].replaceChildren();
  for (const record of recent.records) addRecord(record);
  // Server-sent events over fetch, so that the token goes in a header.
  const response = await fetch("/console/api/audit?follow=1", {
    headers: { "Authorization": "Bearer " + state.token, "Accept": "text/event-stream" },
    signal: controller.signal,
  });
  if (!response.ok || !response.body) throw new Error("the live feed was refused (HTTP " + response.status + ")");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      if (data) {
        try { addRecord(JSON.parse(data)); } catch (_) { /* not a record */ }
      }
    }
  }
}

async function refreshPolicy() {
  const chosen = $("policy-agent").value;
  const policy = await api("policy" + (chosen ? "?agent=" + encodeURIComponent(chosen) : ""));
  // One entry per agent served; the page shows the one chosen (the first at start).
  const select = $("policy-agent");
  if (Array.from(select.options).map((o) => o.value).join("\n") !== policy.agents.join("\n")) {
    select.replaceChildren(...policy.agents.map((name) => new Option(name, name)));
  }
  select.value = policy.agent;
  $("policy-name").textContent = policy.name;
  $("policy-mode").textContent = policy.mode;
  $("policy-hash").textContent = policy.hash;
  const tbody = $("statements").tBodies[0];
  tbody.replaceChildren();
  for (const s of policy.statements) {
    const row = tbody.insertRow();
    cell(row, s.sid);
    cell(row, s.effect, s.effect);
    cell(row, (s.actions ? "" : "not ") + (s.actions || s.not_actions).join(", "), "mono");
    cell(row, (s.resources ? "" : "not ") + (s.resources || s.not_resources).join("\n"), "mono");
    cell(row, s.approval);
    cell(row, s.conditions.map((c) => c.operator + " " + c.key + " " + c.values.join(", ")).join("\n"), "mono");
  }
}

// A job that works again after a failure (the server restarted) clears the error.
function every(ms, job) {
  const run = () => job().then(() => {
    if ($("status").className === "error") setStatus("connected");
  }).catch((error) => setStatus(error.message, true));
  state.timers.push(setInterval(run, ms));
  return run();
}

async function connect() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  try {
    await api("approvals");
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  sessionStorage.setItem("awsgate-console-token", state.token);
  setStatus("connected");
  every(1000, refreshApprovals);
  state.timers.push(setInterval(tickTimers, 250));
  every(5000, refreshPolicy);
  state.generation = (state.generation || 0) + 1;
  followAgain(state.generation);
}

// The live feed, reopened 2 s after it ends or fails (a restarted server), until the
// operator connects anew (a new generation).
function followAgain(generation) {
  follow()
    .catch((error) => { if (error.name !== "AbortError") setStatus(error.message, true); })
    .finally(() => {
      if (generation !== state.generation) return;
      setTimeout(() => { if (generation === state.generation) followAgain(generation); }, 2000);
    });
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    connect();
  });
  $("filters").addEventListener("input", applyFilters);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("policy-agent").addEventListener("change", () => refreshPolicy().catch((error) => setStatus(error.message, true)));
  $("policy-form").addEventListener("submit", (event) => event.preventDefault());
  if (state.token) connect();
});
