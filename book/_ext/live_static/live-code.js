/*
 * "Live code": the chapter's cells become editable and run on the reader's own Jupyter kernel.
 *
 * The button exists only when the page was served by `make live` (tools/live.py), which puts
 * window.BOOK_LIVE = {baseUrl, token, thebeUrl, mathjaxUrl} into every page it serves. A page
 * served any other way shows no button and loads nothing more. thebe (npm, 0.9.x) is served by
 * the same local server; nothing is fetched from another machine.
 */
(() => {
  "use strict";

  let live = null;
  let notebook = null;

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${src}`));
      document.head.appendChild(script);
    });
  }

  function loadStyle(href) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = href;
    document.head.appendChild(link);
  }

  // thebe pairs the n-th source with the n-th output placeholder, so every runnable cell gets one.
  function markCells() {
    for (const cell of document.querySelectorAll("article div.cell")) {
      const source = cell.querySelector(".cell_input pre");
      if (!source) continue; // a cell whose input the page hides stays as it is
      source.setAttribute("data-executable", "true");
      source.setAttribute("data-language", "python");
      let output = cell.querySelector(".cell_output");
      if (!output) {
        output = document.createElement("div");
        output.className = "cell_output docutils container";
        cell.appendChild(output);
      }
      output.setAttribute("data-output", "");
      cell.querySelectorAll("button.copybtn").forEach((button) => button.remove());
    }
  }

  function setStatus(button, text, state) {
    button.querySelector(".book-live-status").textContent = text;
    button.dataset.state = state;
  }

  async function start(button) {
    button.disabled = true;
    setStatus(button, "loading thebe", "loading");
    loadStyle(`${live.thebeUrl}thebe.css`);
    await loadScript(`${live.thebeUrl}index.js`);
    markCells();
    window.thebe.on("status", (event, data) => setStatus(button, data.status, data.status));
    const folder = notebook.split("/").slice(0, -1).join("/");
    await window.thebe.bootstrap({
      useBinder: false,
      useJupyterLite: false,
      requestKernel: true,
      mountActivateWidget: false,
      mountStatusWidget: false,
      serverSettings: { baseUrl: live.baseUrl, token: live.token, appendToken: true },
      kernelOptions: { name: "python3", kernelName: "python3", path: folder },
      mathjaxUrl: live.mathjaxUrl,
      mathjaxConfig: "TeX-AMS-MML_HTMLorMML-full",
      codeMirrorConfig: { mode: "python", theme: "default" },
    });
    setStatus(button, "ready: edit a cell, then press run (or Shift-Enter)", "ready");
    document.documentElement.classList.add("book-live-ready");
  }

  function addButtons() {
    const header = document.querySelector(".article-header-buttons");
    const button = document.createElement("button");
    button.className = "btn btn-sm book-live-button";
    button.title = "Run this chapter's cells here, on your own Jupyter kernel (make live)";
    button.innerHTML =
      '<i class="fas fa-play"></i> <span>Live code</span> <span class="book-live-status"></span>';
    button.addEventListener("click", () =>
      start(button).catch((error) => {
        setStatus(button, `failed: ${error.message || error}`, "failed");
        button.disabled = false;
        console.warn("[live code]", error);
      }),
    );
    const lab = document.createElement("a");
    lab.className = "btn btn-sm book-live-lab";
    lab.href = `${live.baseUrl}lab/tree/${notebook}?token=${encodeURIComponent(live.token)}`;
    lab.target = "_blank";
    lab.title = "Open this chapter in Jupyter Lab, on the same server";
    lab.innerHTML = '<i class="fas fa-flask"></i> <span>Jupyter Lab</span>';
    const bar = document.createElement("div");
    bar.className = "book-live-bar";
    bar.append(button, lab);
    (header || document.querySelector("article")).prepend(bar);
  }

  function init() {
    live = window.BOOK_LIVE;
    notebook = document.querySelector('meta[name="book-notebook"]')?.content;
    if (live && notebook) addButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
