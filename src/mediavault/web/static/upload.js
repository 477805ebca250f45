// Uploads straight to the ImageKit upload route, one XHR per file (for its progress), each
// with a single-use signature the console hands out: the private key never reaches the page.

export function setUpUploads(csrf) {
  for (const section of document.querySelectorAll("[data-uploader]")) {
    const input = section.querySelector("[data-upload-input]");
    const zone =
      section.dataset.dropTarget === "page" ? document.body : section.querySelector("[data-dropzone]");
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      uploadAll(section, files, csrf);
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      uploadAll(section, [...event.dataTransfer.files], csrf);
    });
  }
}

async function uploadAll(section, files, csrf) {
  // On a file's page, a file dropped becomes that file's next version: one at a time.
  const chosen = section.dataset.name ? files.slice(0, 1) : files;
  if (!chosen.length) return;
  const results = await Promise.all(chosen.map((file) => uploadOne(section, file, csrf)));
  if (results.every(Boolean) && section.dataset.reload !== undefined) {
    location.reload();
  } else {
    section.querySelector("[data-upload-done]").hidden = false;
  }
}

async function uploadOne(section, file, csrf) {
  const row = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", file.name);
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = "Waiting";
  row.append(name, progress, status);
  section.querySelector("[data-upload-list]").append(row);
  const fail = (message) => {
    row.classList.add("failed");
    status.textContent = `Failed: ${message}`;
    return false;
  };

  let proof;
  try {
    const answer = await fetch("/ui/upload-auth", {
      method: "POST",
      headers: { "x-csrf-token": csrf },
      credentials: "same-origin",
    });
    const body = await answer.json();
    if (!answer.ok) return fail(body.message ?? answer.statusText);
    proof = body;
  } catch (error) {
    return fail(error.message);
  }

  const form = new FormData();
  form.append("fileName", section.dataset.name || file.name);
  form.append("folder", section.dataset.folder || "/");
  form.append("useUniqueFileName", "false");
  for (const field of ["publicKey", "token", "expire", "signature"]) form.append(field, proof[field]);
  form.append("file", file, file.name);

  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/api/v1/files/upload");
    status.textContent = "Uploading";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    request.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // not JSON: the status line says enough
      }
      if (request.status >= 200 && request.status < 300) {
        progress.value = 100;
        row.classList.add("done");
        status.textContent = `Uploaded as ${body.versionInfo?.name ?? "a new version"}`;
        resolve(true);
      } else {
        resolve(fail(body.message ?? `HTTP ${request.status}`));
      }
    });
    request.addEventListener("error", () => resolve(fail("the connection was lost")));
    request.send(form);
  });
}
