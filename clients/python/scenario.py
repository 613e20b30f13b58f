"""A client generated from chat-engine's OpenAPI document by openapi-python-client, driven
through what an app does: sign in, find its room, send (retry-safe), read history and the
change log, upload a file and attach it, and set a profile picture. Every step checks what the
server answered; any failure exits non-zero.

Run by clients/run, which generates the package `chat_client` beside this file first:

    python3 scenario.py http://127.0.0.1:3000 user1@example.com PASSWORD
"""

import base64
import sys
import uuid

from chat_client import AuthenticatedClient, Client
from chat_client.api.accounts import sign_in
from chat_client.api.attachments import upload
from chat_client.api.events import list_events
from chat_client.api.messages import changes, history, send_message
from chat_client.api.profiles import get_me, set_avatar
from chat_client.api.rooms import list_rooms
from chat_client.models import Attachment, ChangePage, HistoryPage, SendMessage, Sent, Session, SignIn, User
from chat_client.types import File

# A 1×1 PNG: small enough to inline, a real image for the server's decoder.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def expect(value, kind, step):
    if not isinstance(value, kind):
        sys.exit(f"{step}: expected {kind.__name__}, got {value!r}")
    return value


def main(url: str, email: str, password: str) -> None:
    session = expect(
        sign_in.sync(client=Client(base_url=url), body=SignIn(email=email, password=password)),
        Session,
        "sign in",
    )
    client = AuthenticatedClient(base_url=url, token=session.token)
    me = expect(get_me.sync(client=client), User, "get me")
    assert me.id == session.user.id

    events = list_events.sync(client=client)
    assert events, "the demo user is in an event"
    rooms = list_rooms.sync(client=client, event_id=events[0].event.id)
    main_room = next(r for r in rooms if r.room.name == "Main")
    room_id = main_room.room.id

    key = f"py-{uuid.uuid4()}"
    body = SendMessage(text="hello from a generated Python client", client_msg_id=key)
    sent = expect(send_message.sync(room_id, client=client, body=body), Sent, "send")
    assert sent.message.text == body.text and not sent.replayed
    again = expect(send_message.sync(room_id, client=client, body=body), Sent, "resend")
    assert again.replayed and again.message.id == sent.message.id, "a retry stores nothing new"

    page = expect(history.sync(room_id, client=client, limit=20), HistoryPage, "history")
    assert any(m.id == sent.message.id for m in page.messages)
    log = expect(
        changes.sync(room_id, client=client, after=int(sent.message.seq) - 1, limit=10),
        ChangePage,
        "changes",
    )
    posted = [c for c in log.changes if c.kind == "message_posted"]
    assert posted and posted[0].data.id == sent.message.id, log

    file = File(payload=PNG, file_name="dot.png", mime_type="image/png")
    attachment = expect(
        upload.sync(room_id, client=client, body=file, file_name="dot.png"), Attachment, "upload"
    )
    assert attachment.content_type == "image/png", attachment
    with_file = SendMessage(text="", attachment_ids=[attachment.id])
    sent_file = expect(send_message.sync(room_id, client=client, body=with_file), Sent, "send file")
    assert [a.id for a in sent_file.message.attachments] == [attachment.id]

    pictured = expect(
        set_avatar.sync(client=client, body=File(payload=PNG, file_name="me.png", mime_type="image/png")),
        User,
        "set avatar",
    )
    assert pictured.avatar_url, pictured
    print("python client: sign-in, send, replay, history, changes, upload, attachment, avatar: ok")


if __name__ == "__main__":
    main(*sys.argv[1:4])
