// Gantry web interface: optional enhancements. Every page works without this script.
"use strict";

function confirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const target = document.getElementById(button.dataset.copy);
      if (!target || !navigator.clipboard) return;
      await navigator.clipboard.writeText(target.textContent.trim());
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  }
}

function selectAll() {
  const all = document.getElementById("select-all");
  if (!all) return;
  all.hidden = false;
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll("input[name=slug]")) box.checked = all.checked;
  });
}

// Uploads go through XMLHttpRequest so that a progress bar can follow the bytes; the
// server answers with where to go next.
function uploadProgress() {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "fetch");
    bar.hidden = false;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (_) { answer = {}; }
      if (xhr.status < 300 && answer.location) {
        window.location.assign(answer.location);
      } else {
        status.textContent = answer.error || ("Upload failed (" + xhr.status + ")");
        status.className = "error";
      }
    });
    xhr.addEventListener("error", () => {
      status.textContent = "Upload failed: the connection was lost.";
      status.className = "error";
    });
    xhr.send(new FormData(form));
  });
}

// A package still being processed or scanned refreshes its page until it settles.
function liveStatus() {
  const live = document.querySelector("[data-live]");
  if (live) setTimeout(() => window.location.reload(), 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  confirmations();
  copyButtons();
  selectAll();
  uploadProgress();
  liveStatus();
});
