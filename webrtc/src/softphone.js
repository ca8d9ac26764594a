// The 365 Hotline console's softphone: the agent's browser is their phone.
//
// Credentials are fetched from the controller when the softphone starts (one password per
// console session) and kept in this closure only: never in the page, storage or a cookie.
// JsSIP reconnects the WebSocket by itself and registers again with them after a network loss.
'use strict';

const JsSIP = require('jssip');

const STATES = ['connecting', 'registered', 'unregistered', 'offline', 'failed'];

class Softphone {
  /**
   * @param {object} options
   *   credentialsUrl: where the controller issues this session's SIP credentials (POST, JSON)
   *   csrfToken: sent as X-CSRF-Token with that request, when the console uses one
   *   onChange: called with the softphone after every change (state, call, mute, hold)
   */
  constructor(options) {
    this.options = Object.assign({ credentialsUrl: 'softphone/credentials' }, options || {});
    this.state = 'offline';
    this.call = null;        // { session, caller, callerName, status: ringing|talking|held }
    this.muted = false;
    this.error = null;
    this.audio = new Audio();
    this.audio.autoplay = true;
    this._ua = null;
  }

  async start() {
    this._stopped = false;
    const headers = { Accept: 'application/json' };
    if (this.options.csrfToken) headers['X-CSRF-Token'] = this.options.csrfToken;
    const reply = await fetch(this.options.credentialsUrl, {
      method: 'POST', headers, credentials: 'same-origin',
    });
    if (!reply.ok) {
      this._set('failed', `no softphone credentials (${reply.status})`);
      throw new Error(this.error);
    }
    const creds = await reply.json();
    const socket = new JsSIP.WebSocketInterface(creds.ws_url);
    this._ua = new JsSIP.UA({
      sockets: [socket],
      uri: creds.uri,
      authorization_user: creds.username,
      password: creds.password,
      display_name: creds.display_name,
      register: true,
      register_expires: creds.register_expires || 60,
      session_timers: false,
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 5,
    });
    const ua = this._ua;
    ua.on('connecting', () => this._set('connecting'));
    ua.on('disconnected', () => this._set('offline'));
    ua.on('registered', () => { this._renewals = 0; this._set('registered'); });
    // JsSIP reports a lost connection as 'disconnected' and then, for the registration it
    // took with it, 'unregistered': the agent must still read "offline", not "unregistered".
    ua.on('unregistered', () => this._set(ua.isConnected() ? 'unregistered' : 'offline'));
    ua.on('registrationFailed', (e) => {
      this._set('failed', `registration failed: ${e.cause}`);
      // Credentials revoked (the controller restarted, or this session was signed in again
      // elsewhere): fetch this session's new ones, with a growing wait between tries.
      if (e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR) this._renew();
    });
    ua.on('newRTCSession', (e) => this._incoming(e));
    ua.start();
  }

  _renew() {
    if (this._stopped || this._renewing) return;
    this._renewing = true;
    const wait = Math.min(30000, 1000 * 2 ** (this._renewals = (this._renewals || 0) + 1));
    if (this._ua) this._ua.stop();
    this._ua = null;
    setTimeout(() => {
      this._renewing = false;
      if (this._stopped) return;
      this.start().catch(() => this._renew());
    }, wait);
  }

  stop() {
    this._stopped = true;
    if (this.call) this.hangup();
    if (this._ua) this._ua.stop();
    this._ua = null;
    this._set('offline');
  }

  answer() {
    if (!this.call || this.call.status !== 'ringing') return;
    this.call.session.answer({ mediaConstraints: { audio: true, video: false } });
  }

  hangup() {
    if (!this.call) return;
    try { this.call.session.terminate(); } catch (e) { /* already ended */ }
  }

  mute(on) {
    if (!this.call) return;
    if (on) this.call.session.mute({ audio: true }); else this.call.session.unmute({ audio: true });
    this.muted = !!on;
    this._changed();
  }

  hold(on) {
    if (!this.call || this.call.status === 'ringing') return;
    if (on) this.call.session.hold(); else this.call.session.unhold();
  }

  dtmf(tone) {
    if (!this.call || !/^[0-9*#A-D]$/.test(String(tone))) return;
    this.call.session.sendDTMF(String(tone), { transportType: 'RFC2833' });
  }

  /** The call's peer connection (for getStats), or null. */
  peerConnection() {
    return this.call ? this.call.session.connection : null;
  }

  _incoming(e) {
    if (e.originator !== 'remote') return;
    const session = e.session;
    if (this.call) { session.terminate({ status_code: 486 }); return; }
    const who = session.remote_identity;
    this.call = { session, caller: who.uri.user, callerName: who.display_name || '', status: 'ringing' };
    this.muted = false;
    session.on('peerconnection', (ev) => this._attachAudio(ev.peerconnection));
    session.on('accepted', () => { this.call.status = 'talking'; this._changed(); });
    session.on('confirmed', () => {
      if (session.connection) this._attachAudio(session.connection);
    });
    session.on('hold', () => { this.call.status = 'held'; this._changed(); });
    session.on('unhold', () => { this.call.status = 'talking'; this._changed(); });
    const ended = () => { if (this.call && this.call.session === session) this.call = null; this._changed(); };
    session.on('ended', ended);
    session.on('failed', ended);
    this._changed();
  }

  _attachAudio(pc) {
    pc.addEventListener('track', (ev) => {
      if (ev.streams && ev.streams[0]) this.audio.srcObject = ev.streams[0];
    });
  }

  _set(state, error) {
    this.state = state;
    this.error = error || null;
    this._changed();
  }

  _changed() {
    if (this.options.onChange) this.options.onChange(this);
  }
}

// A small panel the desk page mounts: registration state, the caller, answer, hang up, mute,
// hold and a DTMF pad. Text goes in with textContent only (caller names are untrusted).
const LABELS = {
  connecting: '连接中', registered: '话机在线', unregistered: '话机未注册', offline: '话机离线',
  failed: '话机故障',
};

function mount(element, options) {
  const phone = new Softphone(Object.assign({}, options, {
    onChange: (p) => {
      render(p);
      if (options && options.onChange) options.onChange(p);
      element.dispatchEvent(new CustomEvent('softphone-change', { detail: p }));
    },
  }));
  element.classList.add('softphone');
  element.innerHTML = '';
  const el = (tag, attrs, text) => {
    const n = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => n.setAttribute(k, v));
    if (text) n.textContent = text;
    return n;
  };
  const state = el('div', { class: 'softphone-state', 'data-state': 'offline', role: 'status' });
  const caller = el('div', { class: 'softphone-caller', 'aria-live': 'polite' });
  const buttons = el('div', { class: 'softphone-buttons' });
  const answer = el('button', { type: 'button', 'data-action': 'answer' }, '接听');
  const hangup = el('button', { type: 'button', 'data-action': 'hangup' }, '挂断');
  const mute = el('button', { type: 'button', 'data-action': 'mute', 'aria-pressed': 'false' }, '静音');
  const hold = el('button', { type: 'button', 'data-action': 'hold', 'aria-pressed': 'false' }, '保持');
  answer.onclick = () => phone.answer();
  hangup.onclick = () => phone.hangup();
  mute.onclick = () => phone.mute(!phone.muted);
  hold.onclick = () => phone.hold(!(phone.call && phone.call.status === 'held'));
  buttons.append(answer, hangup, mute, hold);
  const pad = el('div', { class: 'softphone-dtmf' });
  '123456789*0#'.split('').forEach((d) => {
    const b = el('button', { type: 'button', 'data-dtmf': d }, d);
    b.onclick = () => phone.dtmf(d);
    pad.append(b);
  });
  element.append(state, caller, buttons, pad);

  function render(p) {
    state.dataset.state = p.state;
    state.textContent = LABELS[p.state] + (p.error ? `：${p.error}` : '');
    const call = p.call;
    element.dataset.call = call ? call.status : 'idle';
    caller.textContent = call ? `${call.status === 'ringing' ? '来电' : '通话'}：${call.callerName} ${call.caller}`.trim() : '';
    answer.disabled = !call || call.status !== 'ringing';
    hangup.disabled = !call;
    mute.disabled = hold.disabled = !call || call.status === 'ringing';
    mute.setAttribute('aria-pressed', String(p.muted));
    hold.setAttribute('aria-pressed', String(!!call && call.status === 'held'));
    pad.querySelectorAll('button').forEach((b) => { b.disabled = !call || call.status === 'ringing'; });
  }
  render(phone);
  phone.start().catch(() => {});
  return phone;
}

// The desk page needs no inline script (its CSP allows none): every element marked
// data-softphone gets a panel; data-credentials-url says where credentials are issued, and the
// page's <meta name="csrf-token"> goes with the request. The panel's softphone is
// window.hotlineSoftphone, and each change is a "softphone-change" event on the element.
function autoMount() {
  document.querySelectorAll('[data-softphone]').forEach((element) => {
    if (element.hotlineSoftphone) return;
    const csrf = document.querySelector('meta[name="csrf-token"]');
    element.hotlineSoftphone = mount(element, {
      credentialsUrl: element.dataset.credentialsUrl || 'softphone/credentials',
      csrfToken: csrf ? csrf.content : undefined,
    });
    window.hotlineSoftphone = element.hotlineSoftphone;
  });
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoMount);
  else autoMount();
}

module.exports = { Softphone, mount, autoMount, STATES, JsSIP };
