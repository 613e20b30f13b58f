// The live connection: one WebSocket to the API's /ws that authenticates, subscribes to rooms and
// survives anything. It reconnects with exponential backoff and jitter, and resubscribes
// every room with `since_seq` set to the last change it saw there, so the server replays
// exactly what was missed: nothing lost, nothing twice.

import { apiUrl } from './api.js';

const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;
const MAX_BACKOFF_MS = 10000;

export class Live {
  /**
   * handlers: status(state) with state 'connecting' | 'connected' | 'reconnecting';
   * subscribed(roomId, lastSeq, resumed); change(frame); ack(frame); error(frame);
   * typing(frame); unread(frame); presence(frame); receipt(frame); authFailed().
   */
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.rooms = new Map(); // roomId → last seq seen (null until the first `subscribed`)
    this.socket = null;
    this.attempt = 0;
    this.everConnected = false;
    this.stopped = false;
    this.timers = new Set();
    this.awaitingPong = null;
    this.away = false;
    this.presenceUsers = [];
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearInterval(this.pinger);
    if (this.socket) this.socket.close(1000, 'signed out');
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.ready;
  }

  /** Follows a room from now on (or resumes it after `sinceSeq`). */
  subscribe(roomId, sinceSeq = null) {
    this.rooms.set(roomId, sinceSeq);
    if (this.connected) this.sendSubscribe(roomId);
  }

  unsubscribe(roomId) {
    this.rooms.delete(roomId);
    if (this.connected) this.send({ type: 'unsubscribe', room_id: roomId });
  }

  /** Says whether this tab is in use; the user shows as away when all their tabs are. */
  setAway(away) {
    this.away = away;
    this.send({ type: 'presence', status: away ? 'away' : 'online' });
  }

  /** Follows these people's presence (replacing the set followed before). */
  watchPresence(userIds) {
    this.presenceUsers = userIds.slice(0, 256);
    if (this.presenceUsers.length) this.send({ type: 'presence_subscribe', user_ids: this.presenceUsers });
  }

  /** Sends a frame if the connection is up; returns whether it went out. */
  send(frame) {
    if (!this.connected) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  connect() {
    if (this.stopped) return;
    this.ready = false;
    this.handlers.status(this.everConnected || this.attempt > 0 ? 'reconnecting' : 'connecting');
    // The API's address with ws: or wss: in place of http: or https:.
    const url = apiUrl('/ws').replace(/^http/, 'ws');
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      // The token goes in the first frame, not the URL, so it never lands in access logs. A
      // host's session needs none: its cookie came with the upgrade.
      if (this.token) socket.send(JSON.stringify({ type: 'auth', token: this.token }));
      socket.send(JSON.stringify({ type: 'ping' }));
    };
    socket.onmessage = (msg) => this.receive(msg.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.ready = false;
      clearInterval(this.pinger);
      if (event.code === 1008 && /auth/.test(event.reason)) {
        this.handlers.authFailed();
        return;
      }
      this.retry();
    };
    // An error is always followed by a close, which schedules the retry.
    socket.onerror = () => {};
  }

  retry() {
    if (this.stopped) return;
    this.handlers.status('reconnecting');
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.later(base / 2 + Math.random() * (base / 2), () => this.connect());
  }

  onReady() {
    this.ready = true;
    this.attempt = 0;
    this.everConnected = true;
    this.handlers.status('connected');
    for (const roomId of this.rooms.keys()) this.sendSubscribe(roomId);
    // Counts for every room, live, without subscribing to them; and who is around. Both start
    // over after a reconnect, so nothing that changed meanwhile is missed.
    this.send({ type: 'unread_subscribe' });
    if (this.away) this.send({ type: 'presence', status: 'away' });
    if (this.presenceUsers.length) this.send({ type: 'presence_subscribe', user_ids: this.presenceUsers });
    // A connection can die without a close (a laptop lid, a dropped route): ping, and treat a
    // missing pong as a dead connection.
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      if (!this.connected) return;
      this.send({ type: 'ping' });
      this.awaitingPong = setTimeout(() => this.socket && this.socket.close(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  sendSubscribe(roomId) {
    const since = this.rooms.get(roomId);
    const frame = { type: 'subscribe', room_id: roomId };
    if (since !== null && since !== undefined) frame.since_seq = since;
    this.send(frame);
  }

  receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch (e) {
      return;
    }
    switch (frame.type) {
      case 'pong':
        clearTimeout(this.awaitingPong);
        if (!this.ready) this.onReady();
        break;
      case 'subscribed': {
        if (!this.rooms.has(frame.room_id)) break;
        const resumed = this.rooms.get(frame.room_id) !== null;
        if (!resumed) this.rooms.set(frame.room_id, frame.last_seq);
        this.handlers.subscribed(frame.room_id, frame.last_seq, resumed);
        break;
      }
      case 'event': {
        if (!this.rooms.has(frame.room_id)) break;
        const seen = this.rooms.get(frame.room_id);
        if (seen === null || frame.seq > seen) this.rooms.set(frame.room_id, frame.seq);
        this.handlers.change(frame);
        break;
      }
      case 'ack':
        this.handlers.ack(frame);
        break;
      case 'typing':
        this.handlers.typing(frame);
        break;
      case 'unread':
        this.handlers.unread(frame);
        break;
      case 'presence':
        this.handlers.presence(frame);
        break;
      case 'receipt':
        this.handlers.receipt(frame);
        break;
      case 'error':
        this.handlers.error(frame);
        break;
      default:
        break;
    }
  }
}
