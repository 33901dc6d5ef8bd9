// Progressive enhancement only: every page works without it.
//
// Uploads: a large file takes a while to send and then to check. The form is sent in the
// background so that a progress bar can follow the bytes sent, then says that the file is
// being checked; when the answer comes, the browser goes to the page it leads to (the
// validation report) or shows the error page. Without this script, or if anything goes
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
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.upload.addEventListener("load", function () {
      words.textContent = "Fichier reçu, vérification en cours… ";
      bar.removeAttribute("value");
      bar.setAttribute("aria-label", "Vérification du fichier");
    });
    xhr.addEventListener("load", function () {
      if (xhr.status < 400 && xhr.responseURL) {
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
