// The USWDS error summary pattern: after a refused save, focus moves to the summary at the top so a screen
// reader announces it and a keyboard user starts there; each link moves focus to its field.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".muster-error-summary");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    var details = field.closest("details");
    if (details) { details.open = true; }
    event.preventDefault();
    history.replaceState(null, "", link.getAttribute("href"));
    field.focus();
    field.scrollIntoView({ block: "center" });
  });
});
