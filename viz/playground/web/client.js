"use strict";
// What both playground pages share: the token from the page's own address, requests to
// their server (each answer's error shown in the page's [role=alert] element) and the
// one number format of every page (4 decimals, scientific notation below 1e-4 and from 1e6).

const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const TOKEN = new URLSearchParams(location.search).get("token") || "";

function withToken(path) {
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}
function showError(message) {
  const e = document.querySelector("[role=alert]");
  e.textContent = message || "";
  e.hidden = !message;
}
async function api(method, path, body) {
  const options = { method: method, headers: { "X-Microgradnn-Token": TOKEN } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(withToken(path), options);
  const data = await response.json().catch(() => ({ error: "the server sent no JSON" }));
  if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
  showError("");
  return data;
}
function run(promise) { return promise.catch((error) => showError(error.message)); }
function fmt(x) {
  if (x === null || x === undefined) return "n/a";
  if (!isFinite(x)) return isNaN(x) ? "nan" : (x > 0 ? "inf" : "-inf");
  const m = Math.abs(x);
  if (m >= 1e6 || (m > 0 && m < 1e-4)) return x.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
  const t = x.toFixed(4);
  return t === "-0.0000" ? "0.0000" : t;
}
