"""A fictional directory for the demo: Voorbeeldstad and Dorpenland, all contacts made up."""

VOORBEELDSTAD = ("GM9901", "Voorbeeldstad (demo)")
DORPENLAND = ("GM9902", "Dorpenland (demo)")
BOTH = (VOORBEELDSTAD, DORPENLAND)

ORGANISATIONS = [
    # name, phone, website, description
    ("Voedselbank Voorbeeldstad (demo)", "010-5550101", "https://voedselbank.demo.example",
     "Voedselpakketten en hulp met boodschappen voor gezinnen met te weinig geld voor eten."),
    ("Stichting Leergeld Voorbeeldstad (demo)", "010-5550102", "https://leergeld.demo.example",
     "Zorgt dat kinderen meedoen op school en daarbuiten: schoolspullen, een fiets, een laptop."),
    ("Jeugdfonds Sport & Cultuur (demo)", "010-5550103", "https://jeugdfonds.demo.example",
     "Betaalt de contributie of het lesgeld voor sport, muziek, dans en theater."),
    ("Kledingbank De Kast (demo)", "010-5550104", None,
     "Gratis kleding en schoenen voor kinderen en ouders."),
    ("Schuldhulp Voorbeeldstad (demo)", "010-5550105", "https://schuldhulp.demo.example",
     "Helpt gezinnen met schulden, geldzaken en het aanvragen van toeslagen."),
    ("Gemeente Voorbeeldstad (demo)", "14 010", "https://gemeente.demo.example",
     "De gemeente: bijzondere bijstand, het minimabeleid en de stadspas."),
    ("Stichting Jarige Kids (demo)", None, "https://jarigekids.demo.example",
     "Een verjaardagsbox, zodat ieder kind zijn verjaardag kan vieren."),
    ("Huiswerkklas De Brug (demo)", "010-5550108", None,
     "Huiswerkbegeleiding na school door vrijwilligers."),
    ("Digimaatjes Voorbeeldstad (demo)", "010-5550109", "https://digimaatjes.demo.example",
     "Vrijwilligers die ouders helpen met de computer, de telefoon en DigiD."),
    ("Opvoedpunt Voorbeeldstad (demo)", "010-5550110", "https://opvoedpunt.demo.example",
     "Gesprekken en cursussen voor ouders met vragen over opvoeden en opgroeien."),
    ("Zorgverzekeraar Regio (demo)", "0800-5550111", "https://zorg.demo.example",
     "De gemeentelijke zorgverzekering voor inwoners met een laag inkomen."),
    ("Woonstichting Thuis (demo)", "010-5550112", "https://thuis.demo.example",
     "Woningcorporatie: huurachterstand, energiekosten en een passende woning."),
]

# org, name, domains, description, ages, route, capacity (weeks), income limit %,
# professional applies, areas, checked days ago
SERVICES = [
    (0, "Voedselpakket", ["food"], "Elke week een pakket met boodschappen voor gezinnen die "
     "tijdelijk te weinig geld hebben voor eten.", (None, None), "inbox", ("open", None), 120,
     True, BOTH, 30),
    (0, "Schoolontbijt", ["food", "school_costs"], "Gratis ontbijt op school voor kinderen die "
     "zonder eten van huis komen. Geen aanmelding van ouders nodig.", (4, 12), "email",
     ("open", None), None, False, (VOORBEELDSTAD,), 60),
    (0, "Sociale supermarkt", ["food"], "Boodschappen voor een lage prijs met een pasje van de "
     "gemeente.", (None, None), "phone", ("waiting_list", 3), 120, False, (VOORBEELDSTAD,), 200),
    (0, "Kookcafé voor ouders", ["food", "stress_parenting"], "Samen goedkoop en gezond koken, "
     "en daarna samen eten. Kinderen zijn welkom.", (None, None), "phone", ("open", None), None,
     False, (VOORBEELDSTAD,), 400),
    (1, "Schoolspullen en laptop", ["school_costs", "digital"], "Vergoeding voor schoolspullen, "
     "een fiets of een laptop voor school, voor kinderen van 4 tot 18 jaar.", (4, 18), "inbox",
     ("open", None), 120, True, BOTH, 45),
    (1, "Schoolreis en kamp", ["school_costs"], "Betaalt de schoolreis, het werkweek of het "
     "schoolkamp, zodat je kind mee kan.", (4, 18), "inbox", ("open", None), 120, True, BOTH, 45),
    (1, "Ouderbijdrage school", ["school_costs"], "Hulp bij het betalen van de vrijwillige "
     "ouderbijdrage.", (4, 18), "inbox", ("waiting_list", 2), 120, True, (VOORBEELDSTAD,), 90),
    (2, "Sportfonds", ["sport_culture"], "Betaalt contributie en sportkleding, zodat je kind "
     "kan sporten bij een club.", (4, 18), "inbox", ("open", None), 120, True, BOTH, 20),
    (2, "Cultuurfonds", ["sport_culture"], "Betaalt les in muziek, dans, theater of tekenen.",
     (4, 18), "inbox", ("open", None), 120, True, BOTH, 20),
    (2, "Zwemles voor elk kind", ["sport_culture"], "Zwemles tot en met diploma A en B, voor "
     "kinderen die het anders niet leren.", (5, 12), "inbox", ("waiting_list", 6), 120, True,
     (VOORBEELDSTAD,), 100),
    (2, "Zomerkamp", ["sport_culture", "stress_parenting"], "Een week kamp in de zomer met "
     "spel, sport en rust.", (8, 14), "email", ("closed", None), 120, True, BOTH, 150),
    (3, "Kledingbank", ["clothing"], "Gratis kleding en schoenen voor kinderen en ouders, vier "
     "keer per jaar.", (None, None), "inbox", ("open", None), 130, True, BOTH, 10),
    (3, "Winterjassenactie", ["clothing"], "Een nieuwe winterjas voor kinderen van 0 tot 16 "
     "jaar.", (0, 16), "phone", ("open", None), 130, False, (VOORBEELDSTAD,), 500),
    (3, "Babyuitzet", ["clothing"], "Kleding, een bedje en een kinderwagen voor ouders die een "
     "baby verwachten.", (0, 1), "inbox", ("waiting_list", 2), 130, True, BOTH, 40),
    (4, "Schuldhulpverlening", ["money"], "Samen met een schuldhulpverlener krijg je overzicht, "
     "en zoeken we een regeling met schuldeisers.", (None, None), "inbox", ("waiting_list", 4),
     None, False, BOTH, 30),
    (4, "Budgetcoach", ["money", "stress_parenting"], "Een vrijwilliger helpt thuis met "
     "post, rekeningen en een weekbudget.", (None, None), "inbox", ("open", None), None, False,
     BOTH, 30),
    (4, "Formulierenbrigade", ["money"], "Hulp bij het invullen van formulieren: toeslagen, "
     "kwijtschelding, bijzondere bijstand.", (None, None), "phone", ("open", None), None, False,
     (VOORBEELDSTAD,), 380),
    (4, "Geldcafé", ["money"], "Elke dinsdag binnenlopen met vragen over geld. Koffie staat "
     "klaar.", (None, None), "letter", ("open", None), None, False, (VOORBEELDSTAD,), 60),
    (5, "Kindpakket", ["school_costs", "sport_culture", "clothing"], "Een tegoed per kind per "
     "jaar voor sport, cultuur, kleding en schoolspullen.", (0, 17), "inbox", ("open", None),
     130, True, (VOORBEELDSTAD,), 15),
    (5, "Bijzondere bijstand", ["money"], "Een bijdrage voor noodzakelijke kosten die je niet "
     "zelf kunt betalen.", (None, None), "letter", ("open", None), 110, True, (VOORBEELDSTAD,),
     15),
    (5, "Kwijtschelding gemeentelijke belastingen", ["money", "housing"], "Je hoeft de "
     "afvalstoffenheffing en rioolheffing niet te betalen als je inkomen laag is.",
     (None, None), "letter", ("open", None), 100, False, (VOORBEELDSTAD,), 15),
    (5, "Gratis OV voor scholieren", ["transport", "school_costs"], "Een gratis buspas voor "
     "scholieren die ver van school wonen.", (12, 18), "inbox", ("open", None), 120, True,
     (VOORBEELDSTAD,), 15),
    (5, "Energietoeslag", ["money", "housing"], "Een eenmalige bijdrage in de energiekosten.",
     (None, None), "letter", ("closed", None), 120, False, (VOORBEELDSTAD,), 300),
    (6, "Verjaardagsbox", ["food", "stress_parenting"], "Een doos met alles voor een "
     "verjaardag: traktatie, slingers en een cadeautje.", (1, 12), "inbox", ("open", None), None,
     True, BOTH, 25),
    (7, "Huiswerkbegeleiding", ["school_costs"], "Vier middagen per week hulp bij huiswerk, "
     "met een rustige plek om te leren.", (10, 16), "inbox", ("waiting_list", 5), None, False,
     (VOORBEELDSTAD,), 70),
    (7, "Bijles rekenen en taal", ["school_costs"], "Gratis bijles van studenten, een keer per "
     "week.", (6, 12), "phone", ("open", None), None, False, (VOORBEELDSTAD,), 420),
    (8, "Laptop in bruikleen", ["digital", "school_costs"], "Een opgeknapte laptop voor "
     "school, met hulp bij het instellen.", (8, 18), "inbox", ("waiting_list", 3), 130, True,
     BOTH, 35),
    (8, "Internet thuis", ["digital"], "Een jaar gratis internet voor gezinnen met "
     "schoolgaande kinderen.", (4, 18), "email", ("open", None), 120, True, (VOORBEELDSTAD,),
     35),
    (8, "Digitaal spreekuur", ["digital", "money"], "Hulp met DigiD, apps van de bank en "
     "online formulieren.", (None, None), "phone", ("open", None), None, False, BOTH, 35),
    (9, "Opvoedspreekuur", ["stress_parenting"], "Praten met een pedagoog over slapen, "
     "eten, grenzen of zorgen over je kind.", (0, 18), "inbox", ("open", None), None, False,
     BOTH, 50),
    (9, "Oudergroep Stress en geld", ["stress_parenting", "money"], "Zes avonden met andere "
     "ouders over omgaan met stress als geld krap is.", (None, None), "inbox",
     ("waiting_list", 8), None, False, (VOORBEELDSTAD,), 50),
    (9, "Maatje voor het gezin", ["stress_parenting"], "Een vrijwilliger die een paar uur per "
     "week meedenkt en meedoet.", (0, 18), "inbox", ("open", None), None, True, BOTH, 500),
    (10, "Betalingsregeling zorgpremie", ["health_costs", "money"], "Een regeling bij "
     "achterstand in de zorgpremie, zodat je verzekerd blijft.", (None, None), "phone",
     ("open", None), None, True, BOTH, 80),
    (10, "Gemeentepolis", ["health_costs"], "Een zorgverzekering met aanvullende dekking en "
     "een bijdrage van de gemeente.", (None, None), "letter", ("open", None), 130, False,
     (VOORBEELDSTAD,), 80),
    (10, "Brillen en beugels", ["health_costs"], "Vergoeding voor een bril of beugel voor je "
     "kind als de verzekering die niet betaalt.", (0, 18), "inbox", ("open", None), 120, True,
     BOTH, 80),
    (11, "Vroegsignalering huurachterstand", ["housing", "money"], "Bij een achterstand in de "
     "huur nemen we snel contact op en zoeken een oplossing.", (None, None), "phone",
     ("open", None), None, False, (VOORBEELDSTAD,), 20),
    (11, "Hulp bij verhuizing", ["housing", "transport"], "Een busje en vrijwilligers voor "
     "gezinnen die moeten verhuizen.", (None, None), "phone", ("waiting_list", 2), None, True,
     (DORPENLAND,), 600),
    (11, "Bed voor elk kind", ["housing"], "Een eigen bed met matras en dekbed voor elk kind.",
     (0, 17), "inbox", ("open", None), 130, True, BOTH, 20),
    (5, "Fietsplan", ["transport", "school_costs"], "Een opgeknapte fiets met slot voor "
     "kinderen die naar de middelbare school gaan.", (11, 16), "inbox", ("open", None), 120,
     True, (DORPENLAND,), 40),
    (1, "Rijles voor jongeren", ["transport"], "Een bijdrage in rijlessen voor jongeren die "
     "een rijbewijs nodig hebben voor werk of opleiding.", (17, 23), "inbox", ("open", None),
     120, True, (VOORBEELDSTAD,), 40),
]

# Where each organisation receives families, and when: street and number, postcode, opening
# hours (all made up). Jarige Kids has no place of its own, as happens.
PLACES = {
    0: ("Havenstraat 12", "9901 AB", "Dinsdag en vrijdag 13:00 tot 16:00"),
    1: ("Schoolstraat 4", "9901 CD", "Maandag tot donderdag 9:00 tot 12:00"),
    2: ("Sportlaan 1", "9901 EF", "Woensdag 14:00 tot 17:00"),
    3: ("Marktplein 7", "9901 GH", "Dinsdag 10:00 tot 15:00, zaterdag 10:00 tot 13:00"),
    4: ("Stadhuisplein 1", "9901 JK", "Maandag tot vrijdag 9:00 tot 17:00"),
    5: ("Stadhuisplein 1", "9901 JK", "Maandag tot vrijdag 8:30 tot 17:00, donderdag tot "
        "20:00"),
    7: ("Bibliotheekweg 3", "9901 LM", "Maandag tot donderdag 15:00 tot 17:30"),
    8: ("Bibliotheekweg 3", "9901 LM", "Dinsdag en donderdag 10:00 tot 12:00"),
    9: ("Lindelaan 20", "9901 NP", "Maandag tot vrijdag 9:00 tot 17:00"),
    10: ("Zorgplein 2", "9901 RS", "Maandag tot vrijdag 8:00 tot 20:00 (telefonisch)"),
    11: ("Woonboulevard 8", "9901 TV", "Maandag tot vrijdag 9:00 tot 16:00"),
}
CITY = "Voorbeeldstad"
PROVINCE = "Utrecht"

# How a family applies, by the service's referral route.
APPLY = {
    "inbox": "Verwijs in de Verwijstool. Wij nemen binnen een week contact op met het gezin.",
    "phone": "Bel op werkdagen tussen 9:00 en 12:00 en zeg dat je verwezen bent.",
    "email": "Stuur een e-mail met wat het gezin nodig heeft en hoe we het gezin bereiken.",
    "letter": "Geef het gezin de verwijsbrief mee, of stuur hem op naar het adres.",
}
