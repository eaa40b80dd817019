// A classic script, in the oldest JavaScript, run before the modules: in a webview that cannot
// run the pane (Internet Explorer 11 or EdgeHTML, used by Office 2016 and 2019 and by Microsoft
// 365 on older Windows: no ES modules, no WebAssembly, or not the syntax the modules are written
// in), it says which Office versions work instead of leaving a blank pane. Where everything is
// there it does nothing. (No eval: the page's Content-Security-Policy forbids it. A module that
// does not parse is caught by its SyntaxError instead.)
(function () {
  var said = false;
  function say() {
    if (said || !document.body) return;
    said = true;
    var p = document.createElement('p');
    p.id = 'unsupported';
    p.className = 'error';
    p.setAttribute('role', 'alert');
    p.appendChild(document.createTextNode('This version of Office (or browser) cannot run Qualtrics Roster: use Microsoft 365 or Office 2021 or later on Windows (with the WebView2 runtime), Excel on a Mac, or Excel on the web (Edge, Chrome, Firefox or Safari).'));
    document.body.insertBefore(p, document.body.firstChild);
  }
  function later() {
    if (document.body) say();
    else document.addEventListener('DOMContentLoaded', say);
  }
  var ua = navigator.userAgent;
  var old = !('noModule' in document.createElement('script')) || typeof WebAssembly !== 'object'
    || /Trident\/|MSIE |Edge\/\d/.test(ua);
  if (old) {
    later();
    return;
  }
  // A webview that runs modules but not their syntax: the module fails to parse.
  window.addEventListener('error', function (e) {
    if (e && e.error && e.error.name === 'SyntaxError' && !(document.body && document.body.getAttribute('data-ready'))) later();
  });
})();
