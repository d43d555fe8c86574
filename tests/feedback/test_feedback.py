"""Feedback by a one-time link: inviting, answering in six languages, and who sees what."""

import re
import uuid
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Child, Family
from referral.feedback import operations
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.referrals.models import Referral
from tests.conftest import audit_entries, csrf_token, post_form

SECRET = "Mijn moeder huilde minder, zegt Elif-geheim-42"


def _invite(client, world, whom=("parent",), language="nl", referral=True):
    url = f"/feedback/invite/{world.family_id}"
    if referral:
        url += f"?referral={world.inbox_referral}"
    response = post_form(client, url, {"whom": list(whom), "language": language})
    assert response.status_code == 200, response.text
    # Each link is on its card and in the text to send.
    return list(dict.fromkeys(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+",
                                         response.text)))


def _child_id(app, world):
    with app.app_context():
        return db.session().exec(select(Child.id).where(
            Child.family_id == world.family_id)).one()


def _answer(client, link, data, *, language=None):
    """Open the link as a family member would, pick a language, send the form."""
    first = client.get(link)
    assert first.status_code == 303 and first.headers["Location"] == "/f/"
    if language:
        post_form(client, "/f/", {"language": language})
    return post_form(client, "/f/form", data)


def test_owner_invites_and_the_card_is_in_the_familys_language(app, client, login, world):
    login(world.owner)
    page = client.get(f"/feedback/invite/{world.family_id}?referral={world.inbox_referral}")
    assert "Elif" in page.text  # a child of 8 to 17 may be invited
    response = post_form(client, f"/feedback/invite/{world.family_id}"
                         f"?referral={world.inbox_referral}",
                         {"whom": ["parent", str(_child_id(app, world))], "language": "ar"},
                         page=f"/feedback/invite/{world.family_id}")
    assert response.text.count('dir="rtl"') == 2 and "كيف كانت الأمور؟" in response.text
    assert response.text.count("<svg") == 2  # a QR code on each card
    links = re.findall(r"https?://[^\s<\"]+/f/([A-Za-z0-9_-]+)", response.text)
    assert len(set(links)) == 2 and all(len(token) >= 32 for token in links)
    with app.app_context():
        stored = db.session().exec(select(FeedbackInvite)).all()
    assert {i.form for i in stored} == {"parent", "child_8_11"}
    assert not any(token in (i.token_hash for i in stored) for token in links)  # hashes only
    assert audit_entries(app, object_type="feedback_invite")


def test_invite_form_refuses_bad_input(client, login, world):
    login(world.owner)
    url = f"/feedback/invite/{world.family_id}"
    for data in ({"whom": [], "language": "nl"}, {"whom": ["parent"], "language": "xx"},
                 {"whom": [str(uuid.uuid4())], "language": "nl"}):
        response = post_form(client, url, data)
        assert response.status_code == 200 and "Er is een probleem" in response.text


def test_only_who_works_on_the_family_invites(client, login, world):
    for person in (world.stranger, world.partner, world.coordinator, world.bridge):
        login(person)
        assert client.get(f"/feedback/invite/{world.family_id}").status_code in (403, 404)


def test_parent_answers_once_and_the_token_leaves_the_address(app, make_app, login, world):
    owner = app.test_client()
    login_as(owner, world.owner)
    [link] = _invite(owner, world)
    family = app.test_client()
    opened = family.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/f/"
    assert opened.headers["Referrer-Policy"] == "no-referrer"
    start = family.get("/f/")
    assert "Kies uw taal" in start.text and link.rsplit("/", 1)[1] not in start.text
    form = family.get("/f/form")
    assert "Werd er goed naar u geluisterd?" in form.text
    token = csrf_token(family, "/f/form")
    sent = family.post("/f/form", data={"csrf_token": token, "heard": "5", "useful": "4",
                                        "went_well": SECRET})
    assert sent.status_code == 303 and sent.headers["Location"] == "/f/thanks"
    again = family.get(link)
    assert again.status_code == 200 and "U hebt al geantwoord" in again.text
    with app.app_context():
        [answer] = db.session().exec(select(FeedbackResponse)).all()
        assert (answer.heard, answer.useful, answer.easy) == (5, 4, None)
        assert answer.went_well == SECRET and SECRET not in answer.went_well_enc
        assert answer.service_id == world.inbox_service
    resend = family.post("/f/form", data={"csrf_token": token, "heard": "1"})  # back button
    assert resend.status_code == 200 and "U hebt al geantwoord" in resend.text
    with app.app_context():
        assert len(db.session().exec(select(FeedbackResponse)).all()) == 1
    assert "Elif" not in resend.text


def test_a_form_sent_back_keeps_the_answers_given(app, client, login, world):
    """Too long a text: the page comes back with its message, and the faces and scales
    chosen are still chosen (nothing to pick again on a phone)."""
    login(world.owner)
    [link] = _invite(client, world)
    family = app.test_client()
    back = _answer(family, link, {"heard": "4", "useful": "2", "went_well": "x" * 2001})
    assert back.status_code == 200 and 'role="alert"' in back.text
    checked = re.findall(r'<input id="([a-z_]+-\d)" name="[a-z_]+" type="radio" value="(\d)"'
                         r'( checked)?>', back.text)
    assert len(checked) == 20  # four scales of five
    assert [(box, value) for box, value, on in checked if on] == [("heard-3", "4"),
                                                                  ("useful-1", "2")]
    assert '<label for="heard-3">' in back.text


def login_as(client, person):
    post_form(client, "/login", {"email": person.email, "password": person.password})


def test_child_answers_in_arabic_right_to_left(app, client, login, world):
    login(world.owner)
    [link] = _invite(client, world, whom=(str(_child_id(app, world)),))
    child = app.test_client()
    child.get(link)
    post_form(child, "/f/", {"language": "ar"})
    form = child.get("/f/form")
    assert 'lang="ar" dir="rtl"' in form.text and "هل استمع إليك الكبار؟" in form.text
    assert form.text.count('<svg class="face"') == 10 and "جيد جدًا" in form.text  # every face has its words
    sent = post_form(child, "/f/form", {"heard": "4", "better": "5", "to_grown_ups": SECRET})
    assert sent.status_code == 303
    assert "شكرًا لك!" in child.get("/f/thanks").text
    with app.app_context():
        [answer] = db.session().exec(select(FeedbackResponse)).all()
    assert (answer.form, answer.language, answer.heard, answer.better) == (
        "child_8_11", "ar", 4, 5)


def test_every_language_is_offered_and_translated(app, client, login, world):
    login(world.owner)
    [link] = _invite(client, world)
    family = app.test_client()
    family.get(link)
    questions = {"nl": "Werd er goed naar u geluisterd?", "en": "Did you feel heard?",
                 "ar": "هل شعرت بأن أحدًا استمع إليك؟", "tr": "Dinlendiğinizi hissettiniz mi?",
                 "pl": "wysłuchany", "uk": "Чи відчували ви, що вас почули?"}
    for language, question in questions.items():
        post_form(family, "/f/", {"language": language})
        page = family.get("/f/form").text
        assert f'lang="{language}"' in page and question in page, language


def test_an_expired_link_gets_a_friendly_page_in_the_familys_language(app, client, login,
                                                                       world):
    login(world.owner)
    [link] = _invite(client, world, language="tr")
    with app.app_context():
        invitation = db.session().exec(select(FeedbackInvite)).one()
        invitation.expires_at = db.utcnow() - timedelta(minutes=1)
        db.commit()
    page = app.test_client().get(link)
    assert page.status_code == 200 and "Bu bağlantının süresi doldu" in page.text
    assert 'lang="tr"' in page.text


def test_a_wrong_link_is_friendly_and_guessing_is_limited_across_processes(make_app, app):
    other = make_app()  # a second app process on the same database
    assert other is not app
    limit = app.config["FEEDBACK_MAX_FAILURES"]
    for n in range(limit):
        client = (app if n % 2 else other).test_client()
        page = client.get(f"/f/{'x' * 32}{n}")
        assert page.status_code == 404 and "Deze link werkt niet" in page.text
    blocked = app.test_client().get("/f/anything-else")
    assert blocked.status_code == 429 and "Wacht even" in blocked.text
    with other.app_context():
        assert len(db.session().exec(select(FeedbackAttempt)).all()) == limit


def test_a_real_link_is_refused_too_while_an_address_is_blocked(app, client, login, world):
    login(world.owner)
    [link] = _invite(client, world)
    guesser = app.test_client()
    for n in range(app.config["FEEDBACK_MAX_FAILURES"]):
        guesser.get(f"/f/guess{n}")
    assert guesser.get(link).status_code == 429


def _responses(app, world, n, score):
    """n answered invitations on the world's inbox referral."""
    with app.app_context():
        session = db.session()
        owner, family = session.get(User, world.owner.id), session.get(Family, world.family_id)
        referral = session.get(Referral, world.inbox_referral)
        for _ in range(n):
            invitation, _token = operations.invite(owner, family, referral=referral)
            operations.submit(invitation, language="nl", scores={"heard": score, "useful": score},
                            texts={"went_well": SECRET})
        db.commit()


def test_partner_sees_scores_only_from_five_answers(app, client, login, world):
    _responses(app, world, 4, 2)
    login(world.partner)
    page = client.get("/feedback/").text
    assert "Voedselpakket" in page and "&lt; 5" in page and "2.0" not in page
    assert page.count("te weinig antwoorden") == 4 and "—" not in page.split("<tbody>")[1]
    assert SECRET not in page
    _responses(app, world, 1, 4)
    page = client.get("/feedback/").text
    assert "2.4" in page and "&lt; 5" not in page and SECRET not in page
    login(world.other_partner)
    assert "Voedselpakket" not in client.get("/feedback/").text


def test_owner_reads_the_answers_to_their_own_invitations(app, client, login, world):
    _responses(app, world, 1, 3)
    login(world.owner)
    assert SECRET in client.get("/feedback/").text
    login(world.colleague)
    assert SECRET not in client.get("/feedback/").text


def test_no_free_text_in_the_raw_database_file(app, client, login, world):
    login(world.owner)
    [link] = _invite(client, world)
    _answer(app.test_client(), link, {"went_well": SECRET, "do_better": SECRET})
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    else:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                raw = "".join(str(row) for table in ("feedback_response", "feedback_invite")
                              for row in connection.exec_driver_sql(
                                  f"SELECT * FROM {table}")).encode()  # noqa: S608
        finally:
            engine.dispose()
    assert b"feedback" in raw or url.startswith("postgresql")  # the file was read
    assert SECRET.encode() not in raw and b"Elif-geheim" not in raw
