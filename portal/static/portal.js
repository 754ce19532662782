// The password strength gauge (faible / moyen / élevé), the same rule as
// apexdir.rules.passwords.strength. Without JavaScript the rules listed beside the field
// are enough; the server judges the password either way.
(function () {
  "use strict";
  function classes(p) {
    var n = 0;
    if (/\p{Lu}/u.test(p)) n++;
    if (/\p{Ll}/u.test(p)) n++;
    if (/[0-9]/.test(p)) n++;
    if (/[^\p{L}0-9]/u.test(p)) n++;
    return n;
  }
  function strength(p) {
    var c = classes(p);
    if (p.length < 12 || c < 3) return "faible";
    if (p.length >= 16 && c === 4 && new Set(p).size >= 8) return "élevé";
    return "moyen";
  }
  document.querySelectorAll("input[data-jauge]").forEach(function (input) {
    var gauge = document.getElementById(input.getAttribute("data-jauge"));
    if (!gauge) return;
    var level = gauge.querySelector(".apex-jauge__niveau");
    function update() {
      if (!input.value) {
        gauge.hidden = true;
        return;
      }
      var s = strength(input.value);
      gauge.hidden = false;
      gauge.setAttribute("data-niveau", s);
      level.textContent = s;
    }
    input.addEventListener("input", update);
    update();
  });
})();
