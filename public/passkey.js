// idport: the WebAuthn calls of our pages, as a file (the CSP allows no inline script).
//
// A form with data-passkey="get" or data-passkey="create" and data-options="URL": on submit, the
// options are fetched from URL (JSON), the browser's passkey dialog runs, its answer goes into the
// form's hidden "credential" field, and the form is posted as usual (the server answers with a
// redirect or a page). data-passkey-autofill on a "get" form also offers passkeys in the username
// field's autofill (conditional mediation). Elements marked data-passkey-only stay hidden where
// the browser has no passkey support; [data-passkey-error] shows its data-message on failure.
(function () {
  'use strict';
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON && navigator.credentials);

  function options(form) {
    return fetch(form.getAttribute('data-options'), { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (res) {
      if (!res.ok) throw new Error('options ' + res.status);
      return res.json();
    });
  }

  function ceremony(form, mediation, signal) {
    return options(form).then(function (json) {
      if (form.getAttribute('data-passkey') === 'create') {
        return navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(json) });
      }
      var request = { publicKey: PKC.parseRequestOptionsFromJSON(json) };
      if (mediation) request.mediation = mediation;
      if (signal) request.signal = signal;
      return navigator.credentials.get(request);
    });
  }

  function submitWith(form, credential) {
    form.querySelector('input[name="credential"]').value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  function showError(form) {
    var box = form.querySelector('[data-passkey-error]') || document.querySelector('[data-passkey-error]');
    if (box) {
      box.textContent = box.getAttribute('data-message');
      box.hidden = false;
    }
  }

  function start(form) {
    // The autofill request, if any: a pending one makes the browser refuse the button's request
    // (Chromium: "a request is already pending"), so the button cancels it first.
    var autofill = null;
    form.addEventListener('submit', function (event) {
      if (form.querySelector('input[name="credential"]').value) return;
      event.preventDefault();
      if (autofill) {
        autofill.abort();
        autofill = null;
      }
      ceremony(form).then(function (credential) {
        if (credential) submitWith(form, credential);
      }, function () {
        showError(form);
      });
    });
    if (form.hasAttribute('data-passkey-autofill') && PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then(function (available) {
        if (!available || !window.AbortController) return;
        autofill = new window.AbortController();
        ceremony(form, 'conditional', autofill.signal).then(function (credential) {
          if (credential) submitWith(form, credential);
        }, function () { /* the user chose a password instead */ });
      });
    }
  }

  if (!supported) return;
  document.querySelectorAll('[data-passkey-only]').forEach(function (el) { el.hidden = false; });
  document.querySelectorAll('form[data-passkey]').forEach(start);
})();
