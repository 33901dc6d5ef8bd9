// Progressive enhancement only: every page works without it.
//
// Uploads: a large file takes a while to send and then to check. The form is sent in the
// background so that a progress bar can follow the bytes sent, then says that the file is
// being checked; when the answer comes, the browser goes to the page it leads to (the
// validation report, which for a large file shows the check's progress) or shows the error
// page. Without this script, or if anything goes
// wrong here, the form is sent the ordinary way.
document.querySelectorAll("form.upload").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (!window.XMLHttpRequest || !window.FormData || form.dataset.sending) { return; }
    event.preventDefault();
    form.dataset.sending = "1";
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector(".progress");
    if (button) { button.disabled = true; }
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Envoi du fichier");
    var words = document.createElement("span");
    words.textContent = "Envoi du fichier… ";
    if (status) {
      status.textContent = "";
      status.appendChild(words);
      status.appendChild(bar);
    }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "ecarto.js");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.upload.addEventListener("load", function () {
      words.textContent = "Fichier reçu, vérification en cours… ";
      bar.removeAttribute("value");
      bar.setAttribute("aria-label", "Vérification du fichier");
    });
    xhr.addEventListener("load", function () {
      var next = xhr.status === 201 && xhr.getResponseHeader("Location");
      if (next) {
        // The report's page shows the check's own progress.
        window.location.assign(next);
      } else if (xhr.status < 400 && xhr.responseURL) {
        window.location.assign(xhr.responseURL);
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", function () { form.submit(); });
    xhr.send(new FormData(form));
  });
});

// Downloads: a national export is streamed as it is written, so the browser alone shows the
// bytes received, not how far along it is. Read in the background, the file's lines are
// counted against the number of schools it will hold; the file is then saved as usual.
document.querySelectorAll("a.export[data-rows]").forEach(function (link) {
  link.addEventListener("click", function (event) {
    if (!window.fetch || !window.ReadableStream || !window.URL || !URL.createObjectURL ||
        link.dataset.loading) { return; }
    event.preventDefault();
    link.dataset.loading = "1";
    var total = parseInt(link.dataset.rows, 10) || 0;
    var status = document.getElementById(link.dataset.status);
    var bar = document.createElement("progress");
    bar.max = Math.max(total, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", "Téléchargement de l'export");
    var words = document.createElement("span");
    words.textContent = "Téléchargement en cours… ";
    if (status) { status.textContent = ""; status.appendChild(words); status.appendChild(bar); }
    var lines = 0;
    var parts = [];
    fetch(link.href).then(function (response) {
      if (!response.ok || !response.body) { throw new Error(String(response.status)); }
      var name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/);
      var reader = response.body.getReader();
      function next() {
        return reader.read().then(function (step) {
          if (step.done) { return name ? name[1] : "export.csv"; }
          parts.push(step.value);
          for (var i = 0; i < step.value.length; i++) { if (step.value[i] === 10) { lines++; } }
          // The first line holds the column names.
          bar.value = Math.min(Math.max(lines - 1, 0), bar.max);
          return next();
        });
      }
      return next();
    }).then(function (fileName) {
      var schools = Math.max(lines - 1, 0);
      bar.value = bar.max;
      words.textContent = "Téléchargement terminé : " + schools.toLocaleString("fr-FR") +
        " établissements. ";
      var save = document.createElement("a");
      save.href = URL.createObjectURL(new Blob(parts, { type: "text/csv" }));
      save.download = fileName;
      document.body.appendChild(save);
      save.click();
      setTimeout(function () { URL.revokeObjectURL(save.href); save.remove(); }, 1000);
      delete link.dataset.loading;
    }).catch(function () {
      // Whatever went wrong, the ordinary download is still there.
      delete link.dataset.loading;
      window.location.assign(link.href);
    });
  });
});

// Admin forms: a refused form comes back as a redirect to its page with the reason, which
// would leave the admin to type everything again. What was typed is kept for the tab (never
// passwords nor the CSRF token) and put back into the same form when the page says that
// nothing was changed; a form that went through forgets it.
(function () {
  var KEY = "ecarto.typed";
  var refused = document.querySelector(".callout.error[data-refused]");
  var kept = null;
  try { kept = JSON.parse(window.sessionStorage.getItem(KEY) || "null"); } catch (e) { kept = null; }
  try { window.sessionStorage.removeItem(KEY); } catch (e) { /* storage unavailable */ }
  if (refused && kept && kept.path === window.location.pathname) {
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      if (form.getAttribute("action") !== kept.action) { return; }
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || !(field.name in kept.values) || field.type === "hidden") { return; }
        var values = kept.values[field.name];
        if (field.type === "checkbox" || field.type === "radio") {
          field.checked = values.indexOf(field.value) !== -1;
        } else {
          field.value = values[0];
        }
      });
    });
  }
  document.querySelectorAll("main form[method=post][action^='/admin/']").forEach(function (form) {
    form.addEventListener("submit", function () {
      var values = {};
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.type === "hidden" || field.type === "password" ||
            field.type === "file" || field.type === "submit") { return; }
        if ((field.type === "checkbox" || field.type === "radio") && !field.checked) { return; }
        (values[field.name] = values[field.name] || []).push(field.value);
      });
      try {
        window.sessionStorage.setItem(KEY, JSON.stringify({
          path: window.location.pathname, action: form.getAttribute("action"), values: values
        }));
      } catch (e) { /* storage unavailable: nothing kept */ }
    });
  });
})();
