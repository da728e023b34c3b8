// The awsgate console: approvals, the audit feed and the policy in force, from the JSON API
// under /console/api/. The operator's token stays in this tab (sessionStorage) and goes in
// an Authorization header, never in a URL or a cookie. Everything shown is set as text.
"use strict";

const state = { token: sessionStorage.getItem("awsgate-console-token") || "", feed: null, timers: [] };
const MAX_ROWS = 300;

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

async function refreshApprovals() {
  const body = await api("approvals");
  const tbody = $("approvals").tBodies[0];
  const seen = new Set();
  for (const approval of body.approvals) {
    seen.add(approval.id);
    if (tbody.querySelector('tr[data-id="' + approval.id + '"]')) continue;
    const row = tbody.insertRow();
    row.dataset.id = approval.id;
    cell(row, approval.asked_at);
    cell(row, approval.agent ? "agent " + approval.agent : approval.session + " (" + approval.transport + ", " + approval.client + ")");
    cell(row, approval.tool + " → " + approval.action);
    cell(row, approval.resources.join("\n"), "mono");
    cell(row, approval.statement);
    cell(row, approval.arguments, "mono");
    const decision = row.insertCell();
    let mfa = null;
    if (approval.needs_mfa) {
      mfa = document.createElement("input");
      mfa.className = "mfa";
      mfa.placeholder = "MFA code";
      mfa.inputMode = "numeric";
      mfa.maxLength = 6;
      mfa.dataset.mfa = approval.id;
      decision.append(mfa, " ");
    }
    for (const [label, approve] of [["Approve", true], ["Deny", false]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.className = approve ? "approve" : "deny";
      button.dataset[approve ? "approve" : "deny"] = approval.id;
      button.addEventListener("click", () => decide(approval.id, approve, mfa, row));
      decision.append(button, " ");
    }
  }
  for (const row of Array.from(tbody.rows)) {
    if (!seen.has(row.dataset.id)) row.remove();
  }
  $("approval-count").textContent = String(body.approvals.length);
  $("no-approvals").hidden = body.approvals.length > 0;
}

async function decide(id, approve, mfa, row) {
  const payload = { approve: approve };
  if (mfa && mfa.value.trim()) payload.mfa_code = mfa.value.trim();
  try {
    await api("approvals/" + encodeURIComponent(id), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
    row.remove();
    setStatus((approve ? "approved " : "denied ") + id);
    await refreshApprovals();
  } catch (error) {
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

function keeps(record, f) {
  if (f.decision && record.decision !== f.decision) return false;
  if (f.tool && record.tool !== f.tool && record.action !== f.tool) return false;
  if (f.session && record.session !== f.session && record.agent !== f.session) return false;
  return true;
}

function addRecord(record) {
  const tbody = $("audit").tBodies[0];
  const row = tbody.insertRow(0);
  row.record = record;
  cell(row, record.seq);
  cell(row, record.time);
  cell(row, record.event);
  cell(row, record.agent ? "agent " + record.agent : record.session);
  cell(row, record.tool);
  cell(row, record.action);
  cell(row, (record.resources || []).join("\n"), "mono");
  cell(row, record.decision, record.decision === "deny" ? "deny" : record.decision === "allow" ? "allow" : "");
  cell(row, record.outcome || record.approval_id || record.new_policy_hash);
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
  const policy = await api("policy");
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

function every(ms, job) {
  const run = () => job().catch((error) => setStatus(error.message, true));
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
  every(5000, refreshPolicy);
  follow().catch((error) => { if (error.name !== "AbortError") setStatus(error.message, true); });
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    connect();
  });
  $("filters").addEventListener("input", applyFilters);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  if (state.token) connect();
});
