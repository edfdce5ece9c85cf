// Wharf's only script: small enhancements over pages that work without it.
// Copy buttons: each <button class="copy" data-copy="ID"> copies the text of the element with that id.
(function () {
  'use strict';
  function announce(button, text) {
    var old = button.textContent;
    button.textContent = text;
    button.setAttribute('aria-live', 'polite');
    setTimeout(function () { button.textContent = old; }, 2000);
  }
  function fallbackCopy(text) {
    var area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }
  document.querySelectorAll('button.copy[data-copy]').forEach(function (button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    if (!target) return;
    button.hidden = false;
    button.addEventListener('click', function () {
      var text = target.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { announce(button, 'Copied'); }, function () {
          announce(button, fallbackCopy(text) ? 'Copied' : 'Press Ctrl+C');
        });
      } else {
        announce(button, fallbackCopy(text) ? 'Copied' : 'Press Ctrl+C');
      }
    });
  });
})();
