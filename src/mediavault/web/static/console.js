// The console's behaviour on top of plain HTML forms: confirmations, uploads, comparison.
import { setUpUploads } from "./upload.js";

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

// Every form with data-confirm asks first, in the page's one <dialog>.
const dialog = document.getElementById("confirm");
let pending = null;
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || !dialog) return;
  event.preventDefault();
  pending = form;
  dialog.querySelector("[data-confirm-text]").textContent = form.dataset.confirm;
  dialog.returnValue = "";
  dialog.showModal();
});
dialog?.addEventListener("close", () => {
  const form = pending;
  pending = null;
  if (dialog.returnValue === "confirm" && form) form.submit();
});

// Compare is enabled with exactly two versions ticked.
const compareButton = document.querySelector("[data-compare-button]");
if (compareButton) {
  const picks = [...document.querySelectorAll("[data-compare-pick]")];
  const update = () => {
    compareButton.disabled = picks.filter((box) => box.checked).length !== 2;
  };
  for (const box of picks) box.addEventListener("change", update);
  update();
}

// The slider reveals the newer picture over the older one.
for (const slider of document.querySelectorAll("[data-slider]")) {
  const top = document.getElementById(slider.dataset.slider);
  const apply = () => {
    top.style.clipPath = `inset(0 0 0 ${100 - slider.value}%)`;
  };
  slider.addEventListener("input", apply);
  apply();
}

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Press Ctrl+C to copy";
    }
  });
}

if (location.hash === "#comparison") document.getElementById("comparison")?.focus();

setUpUploads(csrf);
