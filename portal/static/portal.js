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

// After a failed submit, the list of errors takes the focus: the keyboard and the screen
// reader start from what to correct (RGAA 11.10, 7.5). The title already says « Erreur : ».
(function () {
  "use strict";
  var summary = document.querySelector("[data-apex-erreurs]");
  if (summary) summary.focus();
})();

// The idle time-out warning: two minutes before the session ends for inactivity, a dialog
// offers « Prolonger », which calls the keep-alive address (any request renews the
// session). Without JavaScript nothing warns: the time-out happens and the next page asks
// for a new login, then comes back to the page asked for.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-apex-inactivite") || "", 10);
  var dialog = document.getElementById("apex-inactivite");
  if (!idle || !dialog) return;
  var lead = parseInt(body.getAttribute("data-apex-avertissement") || "120", 10);
  var prolong = dialog.querySelector("[data-apex-prolonger]");
  var deadlineText = dialog.querySelector("[data-apex-echeance]");
  var expired = dialog.querySelector("[data-apex-expiree]");
  var warnTimer = null;
  var endTimer = null;

  function open() {
    if (window.dsfr) {
      window.dsfr(dialog).modal.disclose();
    } else if (dialog.showModal) {
      dialog.showModal();
    }
  }
  function close() {
    if (window.dsfr) {
      window.dsfr(dialog).modal.conceal();
    } else if (dialog.close) {
      dialog.close();
    }
  }
  function schedule(seconds) {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    var end = new Date(Date.now() + seconds * 1000);
    deadlineText.textContent = end.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
    expired.hidden = true;
    prolong.hidden = false;
    warnTimer = setTimeout(open, Math.max(0, seconds - lead) * 1000);
    // At the time-out the page is reloaded: the server ends the session and shows the
    // login page, which brings the partner back here afterwards.
    endTimer = setTimeout(function () {
      expired.hidden = false;
      prolong.hidden = true;
      window.location.assign(window.location.pathname + window.location.search);
    }, (seconds + 1) * 1000);
  }
  prolong.addEventListener("click", function () {
    fetch(body.getAttribute("data-apex-prolonger"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": body.getAttribute("data-apex-csrf"), Accept: "application/json" },
    })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        return response.ok && json ? response.json() : null;
      })
      .then(function (data) {
        if (data && data.connecte) {
          close();
          schedule(data.inactivite);
        } else {
          window.location.assign(window.location.pathname + window.location.search);
        }
      })
      .catch(function () {
        window.location.assign(window.location.pathname + window.location.search);
      });
  });
  schedule(idle);
})();
