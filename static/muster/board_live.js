// The live board (templates/activations/board.html): htmx polls every 5 seconds. Each poll sends back the version of
// the board last drawn (the page's data-board-version, then the X-Muster-Board-Version header of each answer that
// drew it again); the server answers 204 No Content while nothing the board is drawn from has changed, htmx then
// leaves the board as it is, and this shows the time of that check instead of the time the board was last drawn.
document.addEventListener("htmx:configRequest", function (event) {
  var live = event.detail.elt;
  if (live.id === "board-live" && live.dataset.boardVersion) {
    event.detail.headers["X-Muster-Board-Version"] = live.dataset.boardVersion;
  }
});
document.addEventListener("htmx:afterRequest", function (event) {
  var live = event.detail.elt;
  var xhr = event.detail.xhr;
  if (live.id !== "board-live") return;
  if (xhr.status === 200) {
    live.dataset.boardVersion = xhr.getResponseHeader("X-Muster-Board-Version") || "";
  } else if (xhr.status === 204) {
    var checked = live.querySelector("[data-board-checked]");
    var at = xhr.getResponseHeader("X-Muster-Checked");
    if (checked && at) checked.textContent = at;
  }
});
