/*
 * Editor helpers shared by this package's node dialogs. Node-RED serves this file at
 * resources/node-red-contrib-the-things-stack/tts-editor.js; each node's HTML loads it before
 * registering its type (the editor loads such scripts synchronously, and this file defines its
 * helpers once however many node files include it).
 */
(function () {
  if (window.TtsEditor) return;

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  /** `tts` → `/tts`, `/tts/` → `/tts`: the runtime's rule (tts-protocol.js, loaded by the dialogs that need it). */
  function webhookPath(path) {
    return window.TtsProtocol.normaliseWebhookPath(String(path || ''));
  }

  /** The URL a tts-webhook-in node answers on, as seen from this browser. */
  function webhookUrl(path) {
    var root = (RED.settings.httpNodeRoot || '/').replace(/\/$/, '');
    return window.location.protocol + '//' + window.location.host + root + webhookPath(path);
  }

  /*
   * The Monaco script editor of the decode and downlink dialogs: the script lives in the hidden
   * input #node-input-script, syntax errors are counted into the validated hidden input
   * #node-input-noerr so the node shows as invalid before deploy.
   */
  var scriptEditor = {
    create: function (node, options) {
      // Plain JavaScript: 'nrjavascript' would suggest function-node globals (msg, node, flow…)
      // that the codec sandbox does not have.
      node.editor = RED.editor.createEditor({
        id: options.id || 'node-input-script-editor',
        mode: 'ace/mode/javascript',
        value: options.value
      });
      if (options.expandButton) {
        $(options.expandButton).on('click', function (e) {
          e.preventDefault();
          RED.editor.editJavaScript({
            value: node.editor.getValue(),
            width: 'Infinity',
            cursor: node.editor.getCursorPosition(),
            mode: 'ace/mode/javascript',
            complete: function (value, cursor) {
              node.editor.setValue(value, -1);
              if (cursor) node.editor.gotoLine(cursor.row + 1, cursor.column, false);
              setTimeout(function () { node.editor.focus(); }, 250);
            }
          });
        });
      }
      return node.editor;
    },
    save: function (node) {
      var errors = 0;
      var annotations = node.editor.getSession().getAnnotations();
      for (var i = 0; i < annotations.length; i++) {
        if (annotations[i].type === 'error') errors += 1;
      }
      $('#node-input-noerr').val(errors);
      node.noerr = errors;
      $('#node-input-script').val(node.editor.getValue());
      scriptEditor.cancel(node);
    },
    cancel: function (node) {
      var editor = node.editor;
      if (!editor) return;
      delete node.editor;
      // Monaco: detach the model before Node-RED's destroy disposes it, so a render the editor
      // already scheduled (a resize just before Done) never meets a disposed model.
      var model = typeof editor.getModel === 'function' ? editor.getModel() : null;
      if (model && typeof editor.setModel === 'function') editor.setModel(null);
      editor.destroy();
      if (model && typeof model.isDisposed === 'function' && !model.isDisposed()) model.dispose();
    },
    /** Gives the editor the dialog height the other (visible) rows leave. */
    resize: function (node, minHeight) {
      var rows = $('#dialog-form>div:not(.node-text-editor-row):visible');
      var height = $('#dialog-form').height();
      for (var i = 0; i < rows.length; i++) height -= $(rows[i]).outerHeight(true);
      var editorRow = $('#dialog-form>div.node-text-editor-row');
      height -= parseInt(editorRow.css('marginTop'), 10) + parseInt(editorRow.css('marginBottom'), 10);
      $('#dialog-form .node-text-editor').css('height', Math.max(minHeight || 150, height) + 'px');
      if (node.editor) node.editor.resize();
    }
  };

  /** The message of a failed admin request: routes answer `{ error: { code, message } }`. */
  function errorText(xhr) {
    var body = xhr && xhr.responseJSON;
    if (body && body.error && typeof body.error.message === 'string') return body.error.message;
    return (xhr && (xhr.statusText || String(xhr.status))) || 'request failed';
  }

  window.TtsEditor = {
    errorText: errorText,
    escapeHtml: escapeHtml,
    webhookPath: webhookPath,
    webhookUrl: webhookUrl,
    scriptEditor: scriptEditor
  };
})();
