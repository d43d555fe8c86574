"""The public feedback pages in words a family reads: "u" throughout in Dutch, plain B1 words
on the parent's form, and faces drawn as pictures with their words (no emoji font needed)."""

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.cases.models import Child
from referral.feedback.models import FeedbackInvite
from tests.conftest import csrf_token, post_form

INFORMAL = re.compile(r"\b(je|jij|jou|jouw)\b", re.I)
ABOVE_B1 = ("grotendeels", "gehoord", "had u iets aan de hulp", "degene", "aan wie u")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")


@pytest.fixture
def open_link(app, client, login, world):
    """Invite (as the owner) a parent or the child; return a fresh client with the link open,
    in the language asked for."""
    def make(whom="parent", language="nl"):
        login(world.owner)
        if whom == "child":
            with app.app_context():
                whom = str(db.session().exec(select(Child.id).where(
                    Child.family_id == world.family_id)).one())
        response = post_form(client, f"/feedback/invite/{world.family_id}",
                             {"whom": [whom], "language": language})
        [link] = set(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+", response.text))
        family = app.test_client()
        assert family.get(link).status_code == 303
        post_form(family, "/f/", {"language": language})
        return family, link
    return make


def _main(html):
    return re.sub(r"<[^>]+>", " ", html.split('<main id="content"', 1)[1])


def test_the_parents_form_and_thanks_say_u_in_plain_dutch(open_link):
    family, _link = open_link()
    form = _main(family.get("/f/form").text)
    assert "Werd er goed naar u geluisterd?" in form
    assert "Heeft de hulp u geholpen?" in form and "Bijna helemaal" in form
    assert "Alleen de persoon die u de link gaf, leest wat u schrijft." in form
    for words in ABOVE_B1:
        assert words not in form.lower(), words
    assert not INFORMAL.search(form), INFORMAL.search(form)
    sent = post_form(family, "/f/form", {"heard": "4"})
    assert sent.headers["Location"] == "/f/thanks"
    thanks = _main(family.get("/f/thanks").text)
    assert "Dank u wel!" in thanks and not INFORMAL.search(thanks)


def test_an_expired_link_says_to_ask_who_gave_it(app, open_link):
    family, link = open_link()
    with app.app_context():
        for invitation in db.session().exec(select(FeedbackInvite)).all():
            invitation.expires_at = db.utcnow() - timedelta(minutes=1)
        db.commit()
    page = _main(app.test_client().get(link).text)
    assert "Vraag de persoon die u de link gaf om een nieuwe link." in page
    assert "aan wie u" not in page and not INFORMAL.search(page)
    unknown = _main(app.test_client().get("/f/" + "x" * 43).text)
    assert "de persoon die u de link gaf" in unknown and not INFORMAL.search(unknown)


@pytest.mark.parametrize(("language", "words"), [
    ("nl", ["heel slecht", "niet goed", "gaat wel", "goed", "heel goed"]),
    ("en", ["very bad", "not good", "so-so", "good", "very good"]),
])
def test_the_childs_faces_are_pictures_with_their_words(open_link, language, words):
    family, _link = open_link("child", language)
    html = family.get("/f/form").text
    assert not EMOJI.search(html)
    for question in re.findall(r'<fieldset class="field scale faces">(.*?)</fieldset>', html,
                               re.S) or [None]:
        assert question is not None, "no face scale"
        labels = re.findall(r"<label [^>]*>(.*?)</label>", question, re.S)
        assert len(labels) == 5
        for label, word in zip(labels, words, strict=True):
            assert re.search(r'<svg class="face"[^>]*aria-hidden="true"', label), label
            assert f"<span>{word}</span>" in label  # the words name the choice
    token = csrf_token(family, "/f/form")
    assert family.post("/f/form", data={"csrf_token": token, "heard": "5"}).status_code == 303
