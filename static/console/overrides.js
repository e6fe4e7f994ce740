// The settings' override form: the app field offers the apps of the rack chosen (the
// server lists every rack's apps, each marked with its rack, for a page without script).
(function () {
  "use strict";

  var list = document.getElementById("override-apps");
  var rack = document.querySelector("#overrides select[name=rack]");
  if (!list || !rack) { return; }
  var all = Array.from(list.querySelectorAll("option"));

  function offer() {
    list.textContent = "";
    all.forEach(function (option) {
      if (option.dataset.rack === rack.value) { list.appendChild(option); }
    });
  }
  rack.addEventListener("change", offer);
  offer();
})();
