"""A feedback link is used up when it is opened: the outsider's finding was that a second
browser with the same link (a forwarded message, a shared phone, a proxy log) got the form,
answered in the family's name first, and the family was refused.

Now the first browser that opens a link holds it (a cookie of its own, for the /f pages
only); every other browser gets a page in the family's language saying the link was opened
elsewhere and how to get a new one, and cannot answer. The professional can make a new link,
which replaces the old one."""

import re

from sqlmodel import select

from referral import db
from referral.feedback.models import FeedbackInvite, FeedbackResponse
from tests.conftest import audit_entries, csrf_token, post_form

ELSEWHERE = {"nl": "Deze link is op een andere telefoon of computer geopend",
             "ar": "تم فتح هذا الرابط على هاتف أو حاسوب آخر"}
ASK = "Vraag de persoon die u de link gaf om een nieuwe link."


def _owner(app, world):
    owner = app.test_client()
    post_form(owner, "/login", {"email": world.owner.email, "password": world.owner.password})
    return owner


def _invite(owner, world, language="nl"):
    response = post_form(owner, f"/feedback/invite/{world.family_id}"
                         f"?referral={world.inbox_referral}",
                         {"whom": ["parent"], "language": language},
                         page=f"/feedback/invite/{world.family_id}")
    assert response.status_code == 200, response.text
    assert "voor dezelfde persoon waarop nog niet is geantwoord, werkt niet meer" in response.text
    [link] = set(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+", response.text))
    return link


def _send(browser, heard):
    """Send the form as this browser, with a CSRF token of its own session."""
    token = csrf_token(browser, "/f/")  # the language choice: a form on every hold
    return browser.post("/f/form", data={"csrf_token": token, "heard": str(heard)})


def _answers(app):
    with app.app_context():
        return db.session().exec(select(FeedbackResponse)).all()


def test_a_second_browser_gets_the_opened_elsewhere_page_and_cannot_answer(app, world):
    owner = _owner(app, world)
    link = _invite(owner, world)
    family, outsider = app.test_client(), app.test_client()
    opened = family.get(link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/f/"
    cookie = family.get_cookie("feedback_holder", path="/f")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.path == "/f" and not cookie.secure  # the test app runs without HTTPS

    second = outsider.get(link)
    assert second.status_code == 403
    assert ELSEWHERE["nl"] in second.text and ASK in second.text
    assert "/f/form" not in second.text and outsider.get_cookie("feedback_holder",
                                                                path="/f") is None
    # No form for the outsider, and nothing it sends is taken.
    assert "Werd er goed naar u geluisterd?" not in outsider.get("/f/form").text
    token = csrf_token(outsider, "/login")
    tried = outsider.post("/f/form", data={"csrf_token": token, "heard": "1"})
    assert tried.status_code == 200 and "Werd er goed" not in tried.text
    assert _answers(app) == []
    denied = audit_entries(app, object_type="feedback_invite", outcome="denied")
    assert len(denied) == 1 and denied[0].family_id == world.family_id

    # The family, after the outsider tried, still answers: once.
    assert "Werd er goed naar u geluisterd?" in family.get("/f/form").text
    sent = _send(family, 5)
    assert sent.status_code == 303 and sent.headers["Location"] == "/f/thanks"
    [answer] = _answers(app)
    assert answer.heard == 5
    assert ELSEWHERE["nl"] not in outsider.get(link).text  # answered: it says so, no form
    assert len(_answers(app)) == 1


def test_the_outsider_cannot_answer_first_even_when_both_open_it_at_once(app, world):
    """Two browsers, both with the link: only the first one gets a hold, the second cannot
    get the form by opening it again, nor by copying the first one's session cookie."""
    link = _invite(_owner(app, world), world)
    family, outsider = app.test_client(), app.test_client()
    assert family.get(link).status_code == 303
    for _ in range(2):
        assert outsider.get(link).status_code == 403
    session_cookie = family.get_cookie("referral_session")
    outsider.set_cookie("referral_session", session_cookie.value)  # the hold, not the holder
    assert "Werd er goed naar u geluisterd?" not in outsider.get("/f/form").text
    assert _answers(app) == []
    assert _send(family, 4).status_code == 303 and len(_answers(app)) == 1


def test_the_family_opens_its_link_again_in_the_same_browser(app, world):
    """The hold on the form lasts an hour; the family opens its link again later, in the
    browser that opened it first, and answers."""
    link = _invite(_owner(app, world), world)
    family = app.test_client()
    assert family.get(link).status_code == 303
    family.delete_cookie("referral_session")  # the short-lived hold ran out
    assert "Werd er goed" not in family.get("/f/form").text
    again = family.get(link)
    assert again.status_code == 303 and again.headers["Location"] == "/f/"
    assert _send(family, 3).status_code == 303 and _answers(app)[0].heard == 3


def test_the_opened_elsewhere_page_speaks_the_familys_language(app, world):
    link = _invite(_owner(app, world), world, language="ar")
    assert app.test_client().get(link).status_code == 303
    page = app.test_client().get(link)
    assert page.status_code == 403 and ELSEWHERE["ar"] in page.text
    assert 'lang="ar"' in page.text and 'dir="rtl"' in page.text


def test_a_new_link_replaces_the_old_one(app, world):
    """The family's answer from the new link counts; the old link, wherever it was opened,
    says there is a newer one, and the owner's list says it was replaced."""
    owner = _owner(app, world)
    page = owner.get(f"/feedback/invite/{world.family_id}")
    assert "vervangt de eerdere link" in page.text
    old = _invite(owner, world)
    holder = app.test_client()
    assert holder.get(old).status_code == 303  # opened by someone else first
    new = _invite(owner, world)
    stale = holder.get(old)
    assert stale.status_code == 200 and "Er is een nieuwere link" in stale.text
    assert "Werd er goed" not in holder.get("/f/form").text  # its hold died with the link
    assert "Er is een nieuwere link" in app.test_client().get(old).text
    family = app.test_client()
    assert family.get(new).status_code == 303
    assert _send(family, 5).status_code == 303 and len(_answers(app)) == 1
    assert "Vervangen door een nieuwere link." in owner.get("/feedback/").text
    with app.app_context():
        rows = db.session().exec(select(FeedbackInvite)).all()
        assert sum(row.replaced_at is not None for row in rows) == 1
    replaced = audit_entries(app, object_type="feedback_invite", action="update")
    assert [entry.summary for entry in replaced] == ["feedback invitation replaced by a new link"]


def test_the_holder_cookie_is_secure_when_the_app_is(app, world, monkeypatch):
    link = _invite(_owner(app, world), world)
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    opened = app.test_client().get(link, base_url="https://localhost")
    [holder] = [header for header in opened.headers.getlist("Set-Cookie")
                if header.startswith("feedback_holder=")]
    assert "Secure" in holder and "HttpOnly" in holder and "SameSite=Lax" in holder
    assert "Path=/f" in holder
