// Copy buttons: <button data-copy="#element-id"> copies that element's text to the
// clipboard and shows the [data-copied] note beside it. A file of its own: the pages
// allow no inline script (Content-Security-Policy).
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
  } catch (error) {
    // No clipboard (plain HTTP on another host): select the text so Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents(source);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    return;
  }
  const note = button.parentElement.querySelector("[data-copied]");
  if (note) note.hidden = false;
});
