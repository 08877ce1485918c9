// egressui: progressive enhancements only; every flow also works without this file.
(function () {
  "use strict";

  // Default port for each protocol: switching protocol moves the port along while it is untouched.
  var DEFAULT_PORTS = { "tls": "443", "http-originate": "443", "http": "80", "tcp": "" };

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-protocol]")) {
      var row = select.closest(".destination");
      var port = row && row.querySelector("input[data-port]");
      var previous = select.getAttribute("data-previous") || "tls";
      if (port && (port.value === "" || port.value === DEFAULT_PORTS[previous])) {
        port.value = DEFAULT_PORTS[select.value] || port.value;
      }
      select.setAttribute("data-previous", select.value);
    }
    // "Select all" boxes: <input type="checkbox" data-select-all="NAME"> toggles every box named NAME.
    if (select.matches && select.matches("input[data-select-all]")) {
      var name = select.getAttribute("data-select-all");
      document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
        box.checked = select.checked;
      });
    }
  });

  // A failed htmx request must not fail silently: show what happened where flash messages go.
  function showError(text) {
    var box = document.getElementById("messages");
    if (!box) { return; }
    var list = document.createElement("ul");
    list.className = "messages";
    var item = document.createElement("li");
    item.className = "error";
    item.setAttribute("role", "alert");
    item.textContent = text;
    list.appendChild(item);
    box.replaceChildren(list);
  }
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You are not allowed to do that (403). Reload the page to see the current state."
      : "The server could not complete the request (" + status + "). Nothing was changed; try again.";
    showError(text);
  });
  document.body.addEventListener("htmx:sendError", function () {
    showError("The server could not be reached. Check your connection and try again.");
  });
})();
