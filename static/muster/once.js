// Disable a form's submit button once it is submitted, so a double tap sends one request.
// The server is idempotent anyway (each form carries a one-time submission key).
document.addEventListener("submit", function (event) {
  var button = event.target.querySelector("button[type=submit]");
  if (button) {
    setTimeout(function () { button.disabled = true; button.textContent = "Saving…"; }, 0);
  }
});
