// Progressive enhancement only: every page works without it.
// While a file is sent and checked (a large one takes a while), say so and keep the button
// from being pressed twice.
document.querySelectorAll("form.upload").forEach(function (form) {
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    var status = form.querySelector(".progress");
    if (button) { button.disabled = true; }
    if (status) {
      status.textContent = "Envoi et vérification en cours… ";
      var bar = document.createElement("progress");
      bar.setAttribute("aria-label", "Vérification du fichier");
      status.appendChild(bar);
    }
  });
});
