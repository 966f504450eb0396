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
   * What a codec script can name, and nothing more: the codec sandbox (src/codec/sandbox) gives
   * ECMAScript's own globals (minus Promise, WebAssembly, WeakRef and FinalizationRegistry) plus
   * the names below; the script is wrapped in a function of `module` and `exports`. Monaco is
   * given exactly this (lib esnext, no DOM, no Node.js), so `Buffer` is known and `require`,
   * `process`, `setTimeout` or `msg` are flagged, as they would fail at run time.
   * test/resources/sandbox-globals.test.ts keeps this list equal to the sandbox's.
   */
  var SANDBOX_GLOBALS = [
    'interface TtsConsole { log(...data: any[]): void; info(...data: any[]): void; debug(...data: any[]): void; warn(...data: any[]): void; error(...data: any[]): void; trace(...data: any[]): void; }',
    '/** Messages logged here appear in the test tool and in the node\'s debug output. */',
    'declare var console: TtsConsole;',
    'type TtsEncoding = "utf8" | "utf-8" | "hex" | "base64" | "base64url" | "latin1" | "binary" | "ascii";',
    'interface TtsBuffer extends Uint8Array {',
    '  toString(encoding?: TtsEncoding, start?: number, end?: number): string;',
    '  toJSON(): { type: "Buffer"; data: number[] };',
    '  equals(other: ArrayLike<number>): boolean;',
    '  slice(start?: number, end?: number): TtsBuffer;',
    '  readUInt8(offset?: number): number; readInt8(offset?: number): number;',
    '  readUInt16LE(offset?: number): number; readUInt16BE(offset?: number): number; readInt16LE(offset?: number): number; readInt16BE(offset?: number): number;',
    '  readUInt32LE(offset?: number): number; readUInt32BE(offset?: number): number; readInt32LE(offset?: number): number; readInt32BE(offset?: number): number;',
    '  readUint8(offset?: number): number; readUint16LE(offset?: number): number; readUint16BE(offset?: number): number; readUint32LE(offset?: number): number; readUint32BE(offset?: number): number;',
    '  readUintLE(offset: number, byteLength: number): number; readUintBE(offset: number, byteLength: number): number; readBigUint64LE(offset?: number): bigint; readBigUint64BE(offset?: number): bigint;',
    '  writeUint8(value: number, offset?: number): number; writeUint16LE(value: number, offset?: number): number; writeUint16BE(value: number, offset?: number): number; writeUint32LE(value: number, offset?: number): number; writeUint32BE(value: number, offset?: number): number;',
    '  readUIntLE(offset: number, byteLength: number): number; readUIntBE(offset: number, byteLength: number): number; readIntLE(offset: number, byteLength: number): number; readIntBE(offset: number, byteLength: number): number;',
    '  readFloatLE(offset?: number): number; readFloatBE(offset?: number): number; readDoubleLE(offset?: number): number; readDoubleBE(offset?: number): number;',
    '  readBigUInt64LE(offset?: number): bigint; readBigUInt64BE(offset?: number): bigint; readBigInt64LE(offset?: number): bigint; readBigInt64BE(offset?: number): bigint;',
    '  writeUInt8(value: number, offset?: number): number; writeInt8(value: number, offset?: number): number;',
    '  writeUInt16LE(value: number, offset?: number): number; writeUInt16BE(value: number, offset?: number): number; writeInt16LE(value: number, offset?: number): number; writeInt16BE(value: number, offset?: number): number;',
    '  writeUInt32LE(value: number, offset?: number): number; writeUInt32BE(value: number, offset?: number): number; writeInt32LE(value: number, offset?: number): number; writeInt32BE(value: number, offset?: number): number;',
    '  writeFloatLE(value: number, offset?: number): number; writeFloatBE(value: number, offset?: number): number; writeDoubleLE(value: number, offset?: number): number; writeDoubleBE(value: number, offset?: number): number;',
    '}',
    '/** A subset of Node.js Buffer, built into the codec sandbox. */',
    'declare var Buffer: {',
    '  from(value: string, encoding?: TtsEncoding): TtsBuffer;',
    '  from(value: ArrayLike<number> | ArrayBuffer | { type: "Buffer"; data: number[] }, byteOffset?: number, length?: number): TtsBuffer;',
    '  alloc(size: number, fill?: number | string): TtsBuffer; allocUnsafe(size: number): TtsBuffer;',
    '  isBuffer(value: any): boolean; isEncoding(encoding: any): boolean; byteLength(value: any, encoding?: TtsEncoding): number;',
    '  concat(list: ArrayLike<number>[], totalLength?: number): TtsBuffer;',
    '};',
    'declare class TextEncoder { readonly encoding: string; encode(text?: string): Uint8Array; }',
    'declare class TextDecoder { constructor(label?: string); readonly encoding: string; decode(bytes?: ArrayLike<number> | ArrayBuffer): string; }',
    'declare var global: typeof globalThis;',
    'declare var self: typeof globalThis;',
    ''
  ].join('\n');
  var SANDBOX_LIB_URI = 'file://types/node-red-contrib-the-things-stack/codec-sandbox.d.ts';
  // Node-RED ignores "Cannot find module" (2307) for the function node, which can load modules;
  // a codec script cannot, and TypeScript reads `require('x')` in JavaScript as a module import
  // (never as an unknown name), so while a codec editor is open the code counts again.
  var CANNOT_FIND_MODULE = 2307;
  var sandboxLib = { users: 0, handle: null, diagnostics: null, ignored: [] };

  /** Gives Monaco's JavaScript service the sandbox's globals; returns the release function. */
  function useSandboxTypes() {
    var ts = window.monaco && window.monaco.languages && window.monaco.languages.typescript;
    if (!ts) return function () {};
    var js = ts.javascriptDefaults;
    // createEditor has just set lib to esnext + dom (no DOM in the sandbox either).
    js.setCompilerOptions(Object.assign({}, js.getCompilerOptions(), { lib: ['esnext'] }));
    if (sandboxLib.users++ === 0) {
      sandboxLib.handle = js.addExtraLib(SANDBOX_GLOBALS, SANDBOX_LIB_URI);
      sandboxLib.diagnostics = js.getDiagnosticsOptions();
      sandboxLib.ignored = (sandboxLib.diagnostics.diagnosticCodesToIgnore || []).filter(function (code) { return code !== CANNOT_FIND_MODULE; });
      // Monaco's own JavaScript validation sets markers with whatever the worker answers, also
      // when the text changed while it was asking, so an error of the previous text can stay on
      // the new one (and Done counts it into noerr). The codec editors check themselves
      // (watchDiagnostics) and drop such answers; Monaco's is off while one of them is open.
      js.setDiagnosticsOptions(Object.assign({}, sandboxLib.diagnostics, {
        diagnosticCodesToIgnore: sandboxLib.ignored,
        noSyntaxValidation: true,
        noSemanticValidation: true,
        noSuggestionDiagnostics: true
      }));
    }
    var released = false;
    return function () {
      if (released) return;
      released = true;
      if (--sandboxLib.users === 0) {
        if (sandboxLib.handle) sandboxLib.handle.dispose();
        if (sandboxLib.diagnostics) js.setDiagnosticsOptions(sandboxLib.diagnostics);
        sandboxLib.handle = null;
        sandboxLib.diagnostics = null;
      }
    };
  }

  /** The markers of the codec editors' own check (Node-RED's getAnnotations knows Monaco's only). */
  var MARKER_OWNER = 'tts-codec';
  // TypeScript's DiagnosticCategory (Warning, Error, Suggestion, Message) as Monaco severities.
  var SEVERITY = [4, 8, 1, 2];

  function flattenMessage(text) {
    if (typeof text === 'string') return text;
    var lines = [];
    (function walk(chain, depth) {
      lines.push(new Array(depth + 1).join('  ') + chain.messageText);
      (chain.next || []).forEach(function (next) { walk(next, depth + 1); });
    })(text, 0);
    return lines.join('\n');
  }

  function markerOf(model, d) {
    var start = model.getPositionAt(d.start || 0);
    var end = model.getPositionAt((d.start || 0) + (d.length || 1));
    return {
      severity: SEVERITY[d.category] || 8,
      startLineNumber: start.lineNumber,
      startColumn: start.column,
      endLineNumber: end.lineNumber,
      endColumn: end.column,
      message: flattenMessage(d.messageText),
      code: String(d.code)
    };
  }

  /**
   * Checks a codec editor's text in Monaco's TypeScript worker after each change and shows the
   * result as markers, but only while the model still holds the version that was checked: an
   * answer for older text (the user typed on while the worker worked) is dropped, the check of
   * the newer text is on its way. `errors()` is the error count of the text as it is now, or
   * undefined while that check runs.
   */
  function watchDiagnostics(editor) {
    var ts = window.monaco && window.monaco.languages && window.monaco.languages.typescript;
    if (!ts || typeof editor.onDidChangeModelContent !== 'function') return null;
    // Node-RED may give the editor a new model after creating it: ask the editor each time.
    function model() {
      var m = editor.getModel();
      return m && !m.isDisposed() ? m : null;
    }
    var checked = { model: null, version: -1, errors: 0 };
    var timer = null;
    var closed = false;

    function check(attempt) {
      timer = null;
      var m = model();
      if (closed || !m) return;
      var version = m.getVersionId();
      var uri = m.uri.toString();
      function current() { return !m.isDisposed() && model() === m && m.getVersionId() === version; }
      ts.getJavaScriptWorker()
        .then(function (getWorker) { return getWorker(m.uri); })
        .then(function (worker) { return Promise.all([worker.getSyntacticDiagnostics(uri), worker.getSemanticDiagnostics(uri)]); })
        .then(function (results) {
          if (!current()) return; // an answer for older text: the check of the newer one is on its way
          var diagnostics = results[0].concat(results[1]).filter(function (d) { return sandboxLib.ignored.indexOf(d.code) === -1; });
          var markers = diagnostics.map(function (d) { return markerOf(m, d); });
          window.monaco.editor.setModelMarkers(m, MARKER_OWNER, markers);
          checked = { model: m, version: version, errors: markers.filter(function (x) { return x.severity === 8; }).length };
        }, function (err) {
          if (!current()) return;
          // A model just created reaches the worker a moment later ("Could not find source file"),
          // seconds later on a busy machine.
          if (attempt < 200) timer = setTimeout(function () { check(attempt + 1); }, 100);
          else if (window.console) console.warn('tts: script check failed', err);
        });
    }

    function schedule(delay) {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { check(0); }, delay);
    }
    // One check per pause in typing, as Monaco's own validation does.
    var listeners = [editor.onDidChangeModelContent(function () { schedule(300); }), editor.onDidChangeModel(function () { schedule(0); })];
    check(0);

    var watcher = {
      /** The error count of the text as it is now; undefined while its check runs. */
      errors: function () {
        var m = model();
        return m && checked.model === m && checked.version === m.getVersionId() ? checked.errors : undefined;
      },
      close: function () {
        closed = true;
        listeners.forEach(function (l) { l.dispose(); });
        if (timer) clearTimeout(timer);
      }
    };
    return watcher;
  }

  function createScriptEditor(holder, id, value) {
    // Plain JavaScript: 'nrjavascript' would declare function-node globals (msg, node, flow…)
    // that the codec sandbox does not have.
    var editor = RED.editor.createEditor({ id: id, mode: 'ace/mode/javascript', value: value });
    holder.releaseTypes = useSandboxTypes();
    holder.diagnostics = watchDiagnostics(editor);
    return editor;
  }

  function destroyScriptEditor(holder) {
    var editor = holder.editor;
    if (!editor) return;
    delete holder.editor;
    if (holder.diagnostics) holder.diagnostics.close();
    delete holder.diagnostics;
    // Monaco: detach the model before Node-RED's destroy disposes it, so a render the editor
    // already scheduled (a resize just before Done) never meets a disposed model.
    var model = typeof editor.getModel === 'function' ? editor.getModel() : null;
    if (model && typeof editor.setModel === 'function') editor.setModel(null);
    editor.destroy();
    if (model && typeof model.isDisposed === 'function' && !model.isDisposed()) model.dispose();
    if (holder.releaseTypes) holder.releaseTypes();
    delete holder.releaseTypes;
  }

  /**
   * The full-width editor behind the expand button. Node-RED's editJavaScript would declare the
   * function node's globals (msg, RED, setTimeout…): this one knows the sandbox's.
   */
  function openExpanded(node) {
    var big = {};
    RED.tray.show({
      width: 'Infinity',
      buttons: [
        { id: 'node-dialog-cancel', text: RED._('common.label.cancel'), click: function () { RED.tray.close(); } },
        {
          id: 'node-dialog-ok',
          text: RED._('common.label.done'),
          class: 'primary',
          click: function () {
            if (node.editor && big.editor) node.editor.setValue(big.editor.getValue(), -1);
            RED.tray.close();
          }
        }
      ],
      resize: function (dimensions) {
        $('#tts-script-editor-expanded').css('height', Math.max(200, dimensions.height - 40) + 'px');
        if (big.editor) big.editor.resize();
      },
      open: function (tray) {
        var body = tray.find('.red-ui-tray-body');
        $('<div class="form-row node-text-editor-row" style="padding: 12px 20px 0"><div class="node-text-editor" id="tts-script-editor-expanded" style="height: 400px"></div></div>').appendTo(body);
        big.editor = createScriptEditor(big, 'tts-script-editor-expanded', node.editor.getValue());
        var cursor = node.editor.getCursorPosition();
        if (cursor) big.editor.gotoLine(cursor.row + 1, cursor.column, false);
        big.editor.focus();
      },
      close: function () {
        destroyScriptEditor(big);
        if (node.editor) node.editor.focus();
      }
    });
  }

  /*
   * The Monaco script editor of the decode and downlink dialogs: the script lives in the hidden
   * input #node-input-script, syntax errors are counted into the validated hidden input
   * #node-input-noerr so the node shows as invalid before deploy.
   */
  var scriptEditor = {
    sandboxGlobals: SANDBOX_GLOBALS,
    create: function (node, options) {
      node.editor = createScriptEditor(node, options.id || 'node-input-script-editor', options.value);
      if (options.expandButton) {
        $(options.expandButton).on('click', function (e) {
          e.preventDefault();
          openExpanded(node);
        });
      }
      return node.editor;
    },
    save: function (node) {
      var diagnostics = node.diagnostics;
      var errors = diagnostics ? diagnostics.errors() : undefined;
      if (errors === undefined && diagnostics) {
        // Done right after typing, before the check of this text is in (Node-RED disposes the
        // model as the dialog closes, so it cannot be waited for): the markers on screen count.
        errors = window.monaco.editor.getModelMarkers({ owner: MARKER_OWNER, resource: node.editor.getModel().uri }).filter(function (m) { return m.severity === 8; }).length;
      } else if (errors === undefined) {
        // No own check (Node-RED set to the ACE editor): the editor's annotations.
        errors = node.editor.getSession().getAnnotations().filter(function (a) { return a.type === 'error'; }).length;
      }
      $('#node-input-noerr').val(errors);
      node.noerr = errors;
      $('#node-input-script').val(node.editor.getValue());
      scriptEditor.cancel(node);
    },
    cancel: function (node) {
      destroyScriptEditor(node);
    },
    /*
     * The editor fills the dialog's height, as the function node's does, and grows with the
     * tray: it ends where the dialog's height leaves just room for the rows below it marked
     * `tts-script-in-sight` (the Test heading: a cue that the test tool follows further down).
     * Counting every row's height, as the function node can with nothing below its editor, left
     * it at the minimum (the test tool's rows took the rest). Measured from the layout as it is,
     * so collapsing margins count as they fall.
     */
    resize: function (node, minHeight) {
      var form = $('#dialog-form');
      var box = form.find('.node-text-editor');
      var editorRow = form.children('div.node-text-editor-row');
      if (editorRow.is(':visible')) {
        var last = form.children('.tts-script-in-sight:visible').last();
        if (!last.length) last = editorRow;
        var top = form[0].getBoundingClientRect().top + parseFloat(form.css('paddingTop'));
        var end = last[0].getBoundingClientRect().bottom + parseFloat(last.css('marginBottom'));
        var height = parseFloat(getComputedStyle(box[0]).height) + form.height() - (end - top);
        box.css('height', Math.max(minHeight || 150, Math.floor(height)) + 'px');
      }
      if (node.editor) node.editor.resize();
    }
  };

  /*
   * Node-RED's runtime answers a dialog's credentials request with `{}` for a node that has no
   * credentials stored at all (an imported example's SQLite store, a profile before its first
   * token), not with `has_<name>: false`. Done then reads the empty password field as a new
   * value and marks the node changed although nothing was typed. Such a node has no value for
   * any of its password credentials: say so, before Done compares.
   */
  function noteMissingCredentials(node) {
    var definition = node._def.credentials || {};
    if (!node.credentials) node.credentials = {};
    Object.keys(definition).forEach(function (name) {
      if (definition[name].type !== 'password') return;
      if (node.credentials['has_' + name] === undefined && node.credentials[name] === undefined) node.credentials['has_' + name] = false;
    });
  }

  /*
   * A node saved by an older version lacks the properties added since (a profile saved before
   * backfill has no backfill or backfillMaxHours). Node-RED fills a missing property's field
   * with nothing, and Done then saved that: backfillMaxHours "", an empty field where a new
   * profile shows 24. A number field left empty runs with its default anyway (the runtime reads
   * "" as "not set"). Both show the default the runtime applies, so what Done saves is what runs.
   */
  function showDefaults(node, prefix) {
    var defaults = node._def.defaults;
    Object.keys(defaults).forEach(function (key) {
      var d = defaults[key];
      if (d.type || d.value === undefined) return;
      var value = node[key];
      if (value !== undefined && !(value === '' && typeof d.value === 'number')) return;
      var input = $('#' + prefix + '-' + key);
      if (!input.length || input.attr('type') === 'hidden') return;
      if (input.attr('type') === 'checkbox') input.prop('checked', d.value === true);
      else input.val(d.value);
    });
  }

  /** The message of a failed admin request: routes answer `{ error: { code, message } }`. */
  function errorText(xhr) {
    var body = xhr && xhr.responseJSON;
    if (body && body.error && typeof body.error.message === 'string') return body.error.message;
    return (xhr && (xhr.statusText || String(xhr.status))) || 'request failed';
  }

  window.TtsEditor = {
    errorText: errorText,
    escapeHtml: escapeHtml,
    noteMissingCredentials: noteMissingCredentials,
    showDefaults: showDefaults,
    webhookPath: webhookPath,
    webhookUrl: webhookUrl,
    scriptEditor: scriptEditor
  };
})();
