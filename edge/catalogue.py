"""The hub's translation catalogue (read through :mod:`edge.i18n`): Dutch and English.

Ids by area: ``kind.*`` signal kinds, ``domain.*``, ``status.*``, ``verdict.*``,
``action.*`` (audit trail), ``room.*``, ``weekday.*``, ``unit.*``, ``feature.*`` (daily
features in pictures), ``ev.*`` evidence in words (integrations/agenda/evidence.py),
``sure.*`` how sure the hub is, ``agenda.*`` the agenda's labels, ``web.*`` the team's
web page (``thuisplus serve``), ``ha.*`` Home Assistant's pushes and entity names,
``hub.*`` and ``channel.*`` the hub's own faults.
"""

from __future__ import annotations

T = dict[str, dict[str, str]]

KINDS: T = {
    "kind.fall": {"nl": "val", "en": "fall"},
    "kind.sos": {"nl": "alarmknop", "en": "alarm button"},
    "kind.no_wake": {"nl": "niet opgestaan", "en": "not up"},
    "kind.inactivity": {"nl": "geen beweging", "en": "no movement"},
    "kind.long_bathroom": {"nl": "lang in de badkamer", "en": "long in the bathroom"},
    "kind.night_wandering": {"nl": "onrustig 's nachts", "en": "restless at night"},
    "kind.door_open": {"nl": "voordeur open", "en": "front door open"},
    "kind.withdrawal": {"nl": "terugtrekking (eenzaamheid)", "en": "withdrawal (loneliness)"},
    "kind.nutrition": {"nl": "minder eten (voeding)", "en": "eating less (nutrition)"},
    "kind.night_toilet": {
        "nl": "vaker 's nachts naar het toilet",
        "en": "more night toilet visits",
    },
    "kind.mobility_decline": {"nl": "minder mobiel", "en": "less mobile"},
    "kind.sensor_offline": {"nl": "sensor stil", "en": "sensor silent"},
    "kind.low_battery": {"nl": "batterij bijna leeg", "en": "battery low"},
    "kind.hub_fault": {"nl": "storing van de hub", "en": "hub fault"},
}

WORDS: T = {
    "domain.care": {"nl": "Zorg", "en": "Care"},
    "domain.welfare": {"nl": "Welzijn", "en": "Welfare"},
    "domain.housing": {"nl": "Wonen", "en": "Housing"},
    "status.open": {"nl": "open", "en": "open"},
    "status.acknowledged": {"nl": "bevestigd", "en": "acknowledged"},
    "status.discussed": {"nl": "besproken", "en": "discussed"},
    "status.assigned": {"nl": "toegewezen", "en": "assigned"},
    "status.closed": {"nl": "gesloten", "en": "closed"},
    "verdict.confirmed": {"nl": "klopt", "en": "confirmed"},
    "verdict.false_alarm": {"nl": "vals alarm", "en": "false alarm"},
    "verdict.not_relevant": {"nl": "niet van belang", "en": "not relevant"},
    "action.raised": {"nl": "gemeld", "en": "raised"},
    "action.repeat": {"nl": "opnieuw gezien", "en": "seen again"},
    "action.repeats": {
        "nl": "{n} keer opnieuw gezien, tot {last}",
        "en": "seen again {n} times, until {last}",
    },
    "action.alerted": {
        "nl": "gepiept: {target} (stap {level})",
        "en": "paged {target} (step {level})",
    },
    "action.alerts": {
        "nl": "{n} keer gepiept tot {last} (tot stap {level}: {targets})",
        "en": "paged {n} times until {last} (up to step {level}: {targets})",
    },
    "action.acknowledged": {"nl": "bevestigd", "en": "acknowledged"},
    "action.discussed": {"nl": "besproken", "en": "discussed"},
    "action.assigned": {
        "nl": "toegewezen aan {domain}, {role}",
        "en": "assigned to {domain}, {role}",
    },
    "action.closed": {"nl": "gesloten", "en": "closed"},
    "action.cleared": {"nl": "vanzelf voorbij", "en": "cleared by itself"},
    "action.feedback": {"nl": "de hub past zich aan", "en": "the hub adapts"},
    "action.other": {"nl": "{action}", "en": "{action}"},
    "presence.home": {"nl": "thuis", "en": "at home"},
    "presence.away": {"nl": "niet thuis", "en": "away"},
    "room.bedroom": {"nl": "de slaapkamer", "en": "the bedroom"},
    "room.bathroom": {"nl": "de badkamer", "en": "the bathroom"},
    "room.toilet": {"nl": "het toilet", "en": "the toilet"},
    "room.kitchen": {"nl": "de keuken", "en": "the kitchen"},
    "room.living": {"nl": "de woonkamer", "en": "the living room"},
    "room.hall": {"nl": "de gang", "en": "the hall"},
    "room.entrance": {"nl": "de voordeur", "en": "the front door"},
    "room.balcony": {"nl": "het balkon", "en": "the balcony"},
    "room.common_room": {"nl": "de gemeenschappelijke ruimte", "en": "the common room"},
    "room.other": {"nl": "een andere ruimte", "en": "another room"},
    "weekday.0": {"nl": "ma", "en": "Mon"},
    "weekday.1": {"nl": "di", "en": "Tue"},
    "weekday.2": {"nl": "wo", "en": "Wed"},
    "weekday.3": {"nl": "do", "en": "Thu"},
    "weekday.4": {"nl": "vr", "en": "Fri"},
    "weekday.5": {"nl": "za", "en": "Sat"},
    "weekday.6": {"nl": "zo", "en": "Sun"},
    "unit.minutes": {"nl": "{n} min", "en": "{n} min"},
    "unit.hours": {"nl": "{n} uur", "en": "{n} h"},
    "unit.day": {"nl": "{n} dag", "en": "{n} day"},
    "unit.days": {"nl": "{n} dagen", "en": "{n} days"},
    "feature.outings": {"nl": "de deur uit", "en": "going out"},
    "feature.time_out_minutes": {"nl": "tijd buiten de deur", "en": "time out"},
    "feature.visitor_minutes": {"nl": "bezoek", "en": "visitors"},
    "feature.common_room_minutes": {"nl": "gemeenschappelijke ruimte", "en": "common room"},
    "feature.kitchen_minutes": {"nl": "minuten in de keuken", "en": "minutes in the kitchen"},
    "feature.kitchen_openings": {"nl": "koelkast en kastjes", "en": "fridge and cupboards"},
    "feature.appliance_uses": {"nl": "waterkoker en apparaten", "en": "kettle and appliances"},
    "feature.contact_minutes": {
        "nl": "minuten buiten de deur of met bezoek",
        "en": "minutes out or with visitors",
    },
    "feature.night_toilet_visits": {
        "nl": "toiletbezoeken per nacht",
        "en": "toilet visits a night",
    },
    "feature.night_roaming_minutes": {
        "nl": "minuten 's nachts op en rond in huis",
        "en": "minutes up and about at night",
    },
    "feature.transition_seconds": {
        "nl": "seconden van de gang een kamer in",
        "en": "seconds from the hall into a room",
    },
}

EVIDENCE: T = {
    "ev.device": {"nl": "'{device}' in {room}", "en": "'{device}' in {room}"},
    "ev.silence.learned": {
        "nl": "Sinds {since} geen beweging, {observed} (laatst in {room}); meestal hooguit "
        "{usual} stil op dit uur, de grens lag op {limit}.",
        "en": "No movement since {since}, {observed} (last in {room}); usually quiet for at "
        "most {usual} at this hour, the limit was {limit}.",
    },
    "ev.silence.cold": {
        "nl": "Sinds {since} geen beweging, {observed} (laatst in {room}); de hub kent het "
        "ritme hier nog niet en hield de vaste grens van {limit} aan.",
        "en": "No movement since {since}, {observed} (last in {room}); the hub does not know "
        "the rhythm here yet and kept to the fixed limit of {limit}.",
    },
    "ev.silence.days": {
        "nl": "Geleerd uit {n} dagen.",
        "en": "Learned from {n} days.",
    },
    "ev.presence.home": {
        "nl": "Volgens de hub was de bewoner thuis.",
        "en": "By the hub's reckoning the resident was at home.",
    },
    "ev.presence.away": {
        "nl": "Volgens de hub was de bewoner niet thuis.",
        "en": "By the hub's reckoning the resident was away.",
    },
    "ev.uncertain": {
        "nl": "Let op: ook stil waren {sensors}; de melding is daardoor minder zeker.",
        "en": "Note: also quiet were {sensors}; the alarm is less certain for it.",
    },
    "ev.fall.sensor": {
        "nl": "De valsensor {device} meldde een val.",
        "en": "Fall sensor {device} reported a fall.",
    },
    "ev.fall.plain": {
        "nl": "Een valsensor meldde een val.",
        "en": "A fall sensor reported a fall.",
    },
    "ev.no_wake.learned": {
        "nl": "Om {deadline} nog niet op; meestal op rond {usual}, geleerd uit {n} ochtenden.",
        "en": "Not up at {deadline}; usually up around {usual}, learned from {n} mornings.",
    },
    "ev.no_wake.early": {
        "nl": "Om {deadline} nog niet op; de hub kent pas {n} ochtenden, de laatste daarvan "
        "om {latest}.",
        "en": "Not up at {deadline}; the hub knows only {n} mornings yet, the latest of them "
        "at {latest}.",
    },
    "ev.no_wake.cold": {
        "nl": "Om {deadline} nog niet op; de hub kent de ochtenden hier nog niet en hield de "
        "vaste grens aan.",
        "en": "Not up at {deadline}; the hub does not know the mornings here yet and kept to "
        "the fixed limit.",
    },
    "ev.no_wake.weekend": {"nl": "Het was een weekenddag.", "en": "It was a weekend day."},
    "ev.last_activity": {"nl": "Laatste beweging om {at}.", "en": "Last movement at {at}."},
    "ev.in_bed.yes": {
        "nl": "De bedsensor meldde: nog in bed.",
        "en": "The bed sensor said: still in bed.",
    },
    "ev.in_bed.no": {
        "nl": "De bedsensor meldde: niet in bed.",
        "en": "The bed sensor said: not in bed.",
    },
    "ev.bathroom.learned": {
        "nl": "Sinds {since} in {room}, {observed}; meestal hooguit {usual}, de grens lag op "
        "{limit}.",
        "en": "In {room} since {since}, {observed}; usually at most {usual}, the limit was "
        "{limit}.",
    },
    "ev.bathroom.cold": {
        "nl": "Sinds {since} in {room}, {observed}; de hub kent pas {n} bezoeken hier en hield "
        "de vaste grens van {limit} aan.",
        "en": "In {room} since {since}, {observed}; the hub knows only {n} visits here yet and "
        "kept to the fixed limit of {limit}.",
    },
    "ev.last_movement": {
        "nl": "Laatste beweging daar om {at}.",
        "en": "Last movement there at {at}.",
    },
    "ev.door_open": {
        "nl": "De voordeur stond sinds {since} open, {observed} (de grens is {limit}).",
        "en": "The front door was open from {since}, {observed} (the limit is {limit}).",
    },
    "ev.sos": {"nl": "Alarmknop {device} ingedrukt.", "en": "Alarm button {device} pressed."},
    "ev.sos.plain": {"nl": "Een alarmknop is ingedrukt.", "en": "An alarm button was pressed."},
    "ev.offline.silence": {
        "nl": "Sensor {device} is stil sinds {since} ({hours} lang).",
        "en": "Sensor {device} has been silent since {since} ({hours}).",
    },
    "ev.offline.availability": {
        "nl": "Zigbee2MQTT meldt sensor {device} offline sinds {since}.",
        "en": "Zigbee2MQTT reports sensor {device} offline since {since}.",
    },
    "ev.offline.held": {
        "nl": "Sensor {device} is stil sinds {since} ({hours} lang); daarom is een zorgmelding "
        "achtergehouden.",
        "en": "Sensor {device} has been silent since {since} ({hours}); a care alarm was held "
        "back because of it.",
    },
    "ev.offline.usual": {
        "nl": "Meestal is hij hooguit {usual} stil.",
        "en": "It is usually silent for {usual} at most.",
    },
    "ev.battery": {
        "nl": "Batterij van {device} op {pct}% (melding onder {threshold}%).",
        "en": "Battery of {device} at {pct}% (reported below {threshold}%).",
    },
    "ev.hub_fault": {
        "nl": "De hub herstartte {n} keer na een storing binnen {window}, de eerste keer om "
        "{first}.",
        "en": "The hub restarted {n} times after a fault within {window}, the first time at "
        "{first}.",
    },
    "ev.hub_fault.alarm_path": {
        "nl": "Het alarmpad naar {channel} gaf geen antwoord: {missed} hartslagen op rij "
        "gemist, sinds {since}.",
        "en": "The alarm path to {channel} did not answer: {missed} heartbeats missed in a "
        "row, since {since}.",
    },
    "ev.trend.window": {
        "nl": "Vergeleken: {first} t/m {last} tegen {baseline} bruikbare dagen daarvoor.",
        "en": "Compared: {first} to {last} against {baseline} usable days before.",
    },
    "ev.trend.again": {
        "nl": "Opnieuw gemeld: na het vorige besluit houdt de trend aan.",
        "en": "Raised again: the trend holds after the previous decision.",
    },
    "ev.withdrawal": {
        "nl": "Op {now} van de laatste {days} dagen de deur uit geweest of bezoek gehad, "
        "gewoonlijk op {usual}.",
        "en": "Out of the door or visited on {now} of the last {days} days, usually on {usual}.",
    },
    "ev.ratios": {
        "nl": "Samen {pct}% van gewoonlijk: {parts}.",
        "en": "Together {pct}% of usual: {parts}.",
    },
    "ev.ratio": {"nl": "{what} {pct}%", "en": "{what} {pct}%"},
    "ev.nutrition": {
        "nl": "Gemiddeld {now} minuten per dag in de keuken, gewoonlijk {usual}.",
        "en": "On average {now} minutes a day in the kitchen, usually {usual}.",
    },
    "ev.night_toilet": {
        "nl": "Gemiddeld {now} keer per nacht naar het toilet, gewoonlijk {usual}.",
        "en": "On average {now} toilet visits a night, usually {usual}.",
    },
    "ev.night_toilet.nights": {
        "nl": "Geteld over {n} nachten.",
        "en": "Counted over {n} nights.",
    },
    "ev.night_wandering": {
        "nl": "Op {n} van de laatste {nights} nachten onrustig (minstens {limit} op en rond in "
        "huis), het langst {longest}; gewoonlijk hooguit {usual}.",
        "en": "Restless on {n} of the last {nights} nights (at least {limit} up and about), "
        "the longest {longest}; usually at most {usual}.",
    },
    "ev.mobility": {
        "nl": "Van de gang een kamer in: {now} seconden (mediaan), gewoonlijk {usual}.",
        "en": "From the hall into a room: {now} seconds (median), usually {usual}.",
    },
    "ev.mobility.activity": {
        "nl": "Activiteit: {now} meldingen per dag, gewoonlijk {usual}.",
        "en": "Activity: {now} events a day, usually {usual}.",
    },
    "ev.none": {
        "nl": "Geen onderbouwing in woorden: zie de gegevens hieronder.",
        "en": "No evidence in words: see the data below.",
    },
    "sure.high": {"nl": "duidelijk", "en": "clear"},
    "sure.mid": {"nl": "waarschijnlijk", "en": "likely"},
    "sure.low": {"nl": "net boven de grens", "en": "just over the limit"},
    "sure.ratio": {
        "nl": "{level} ({ratio} keer zo ver als de grens van de hub)",
        "en": "{level} ({ratio} times as far as the hub's limit)",
    },
    "sure.unknown": {"nl": "onbekend", "en": "unknown"},
}

AGENDA: T = {
    "agenda.title": {"nl": "Agenda signaaloverleg", "en": "Signal meeting agenda"},
    "agenda.heading": {
        "nl": "Agenda signaaloverleg: flat {flat}, week {week} ({year})",
        "en": "Signal meeting agenda: flat {flat}, week {week} ({year})",
    },
    "agenda.generated": {"nl": "Gemaakt op {at}.", "en": "Generated on {at}."},
    "agenda.contents": {"nl": "Inhoud", "en": "Contents"},
    "agenda.decide": {"nl": "Te besluiten", "en": "To decide"},
    "agenda.decide_intro": {
        "nl": "Per signaal: klopt het, wie pakt het op, en wat spreken we af? Leg het besluit "
        "vast op de signaalpagina van de gateway (thuisplus serve) of met 'thuisplus signals "
        "assign|discuss|close': het staat volgende week hier.",
        "en": "For each signal: is it right, who picks it up, and what do we agree? Record the "
        "decision on the gateway's signal page (thuisplus serve) or with 'thuisplus signals "
        "assign|discuss|close': it shows here next week.",
    },
    "agenda.decide_none": {
        "nl": "Geen open signalen voor dit domein.",
        "en": "No open signals for this domain.",
    },
    "agenda.open_count": {"nl": "{n} open", "en": "{n} open"},
    "agenda.apartment": {"nl": "Appartement {apartment}", "en": "Apartment {apartment}"},
    "agenda.sure": {"nl": "Hoe zeker", "en": "How sure"},
    "agenda.since": {"nl": "Sinds", "en": "Since"},
    "agenda.since_value": {
        "nl": "{date} ({weeks} open)",
        "en": "{date} ({weeks} open)",
    },
    "agenda.changed": {"nl": "Sinds vorige week", "en": "Since last week"},
    "agenda.changed.new": {"nl": "nieuw deze week", "en": "new this week"},
    "agenda.changed.repeats": {
        "nl": "{n} keer opnieuw gezien",
        "en": "seen again {n} times",
    },
    "agenda.changed.none": {"nl": "niets nieuws", "en": "nothing new"},
    "agenda.evidence": {"nl": "Onderbouwing", "en": "Evidence"},
    "agenda.raw": {"nl": "Gegevens van de hub", "en": "The hub's data"},
    "agenda.status": {"nl": "Status", "en": "Status"},
    "agenda.earlier": {"nl": "Eerder besloten", "en": "Decided before"},
    "agenda.earlier.none": {"nl": "nog niets", "en": "nothing yet"},
    "agenda.who": {"nl": "Wie pakt dit op", "en": "Who picks this up"},
    "agenda.decided": {"nl": "Besluit", "en": "Decision"},
    "agenda.history": {"nl": "Verloop", "en": "History"},
    "agenda.resolved": {"nl": "Vanzelf opgelost: {reason}", "en": "Resolved by itself: {reason}"},
    "agenda.verdict": {"nl": "oordeel: {verdict}", "en": "verdict: {verdict}"},
    "agenda.notes": {"nl": "notitie: {notes}", "en": "notes: {notes}"},
    "agenda.urgent": {"nl": "Urgente meldingen deze week", "en": "Urgent alerts this week"},
    "agenda.urgent_none": {
        "nl": "Geen urgente meldingen deze week.",
        "en": "No urgent alerts this week.",
    },
    "agenda.urgent_count": {
        "nl": "{n} urgente meldingen: {kinds}.",
        "en": "{n} urgent alerts: {kinds}.",
    },
    "agenda.response": {
        "nl": "Bevestigd: {n}, na mediaan {median} (langzaamst {slowest}).",
        "en": "Acknowledged: {n}, after a median {median} (slowest {slowest}).",
    },
    "agenda.unacknowledged": {
        "nl": "Nog niet bevestigd: {n}. Bespreek deze eerst.",
        "en": "Not yet acknowledged: {n}. Discuss these first.",
    },
    "agenda.urgent_list": {"nl": "Alle urgente meldingen", "en": "All urgent alerts"},
    "agenda.acked_after": {"nl": "bevestigd na {wait}", "en": "acknowledged after {wait}"},
    "agenda.not_acked": {"nl": "niet bevestigd", "en": "not acknowledged"},
    "agenda.devices": {"nl": "Apparaten (voor Wonen)", "en": "Devices (for Housing)"},
    "agenda.devices_none": {"nl": "Geen apparaatproblemen.", "en": "No device problems."},
    "agenda.device": {"nl": "Apparaat", "en": "Device"},
    "agenda.problem": {"nl": "Probleem", "en": "Problem"},
    "agenda.open_since": {"nl": "Open sinds", "en": "Open since"},
    "agenda.how_often": {"nl": "Hoe vaak (4 weken)", "en": "How often (4 weeks)"},
    "agenda.times": {"nl": "{n} keer", "en": "{n} times"},
    "agenda.now": {"nl": "Nu", "en": "Now"},
    "agenda.device_ok": {"nl": "weer in orde", "en": "working again"},
    "agenda.closed_week": {"nl": "Deze week gesloten", "en": "Closed this week"},
    "agenda.overview": {"nl": "Overzicht van de flat", "en": "Flat overview"},
    "agenda.open_per_domain": {"nl": "Open signalen per domein", "en": "Open signals per domain"},
    "agenda.common": {
        "nl": "Activiteit in de gemeenschappelijke ruimte (uren met beweging per dag)",
        "en": "Activity in the common room (hours with motion per day)",
    },
    "agenda.common_none": {
        "nl": "Geen sensor in de gemeenschappelijke ruimte gezien.",
        "en": "No common-room sensor seen.",
    },
    "agenda.heatmap": {
        "nl": "{apartment}: activiteit per uur, vier weken tot {end}",
        "en": "{apartment}: activity per hour, four weeks to {end}",
    },
    "agenda.heatmap_missing": {
        "nl": "grijs: geen gegevens (voor de installatie of een gat)",
        "en": "grey: no data (before installation or a gap)",
    },
    "agenda.trend_title": {"nl": "{apartment}: {feature}", "en": "{apartment}: {feature}"},
    "agenda.trend_band": {"nl": "gewoonlijk (10-90%)", "en": "usual (10-90%)"},
    "agenda.trend_window": {"nl": "venster van het signaal", "en": "the signal's window"},
    "agenda.trend_limit": {"nl": "grens", "en": "limit"},
    "agenda.trend_day": {"nl": "per dag", "en": "per day"},
    "agenda.trend_none": {
        "nl": "De hub heeft geen dagwaarden meer van deze periode; alleen het venster en de "
        "gewone waarde zijn getekend.",
        "en": "The hub keeps no daily values of this period any more; only the window and "
        "the usual value are drawn.",
    },
    "agenda.trend_caption": {
        "nl": "Elke punt is een dag; ontbrekende dagen (weg, sensor stil) zijn open gelaten.",
        "en": "Each dot is a day; missing days (away, a sensor silent) are left open.",
    },
    "agenda.hour": {"nl": "uur", "en": "hour"},
    "agenda.day": {"nl": "dag", "en": "day"},
    "agenda.events": {"nl": "meldingen", "en": "events"},
    "agenda.signal": {"nl": "Signaal", "en": "Signal"},
    "agenda.when": {"nl": "Wanneer", "en": "When"},
    "agenda.what": {"nl": "Wat", "en": "What"},
    "agenda.apartment_short": {"nl": "App.", "en": "Apt."},
}

WEB: T = {
    "web.title": {"nl": "Signaaloverleg {flat}", "en": "Signal meeting {flat}"},
    "web.register": {"nl": "Signalen", "en": "Signals"},
    "web.register_intro": {
        "nl": "Open signalen per domein, urgente eerst. Kies een signaal om het op te pakken, "
        "te bespreken of met een oordeel te sluiten: de hub leert van het oordeel.",
        "en": "Open signals by domain, urgent first. Pick a signal to take it on, discuss it "
        "or close it with a verdict: the hub learns from the verdict.",
    },
    "web.agenda": {"nl": "Agenda van deze week", "en": "This week's agenda"},
    "web.other_language": {"nl": "English", "en": "Nederlands"},
    "web.logged_in_as": {"nl": "{name} ({role})", "en": "{name} ({role})"},
    "web.role.care": {"nl": "zorg", "en": "care"},
    "web.role.welfare": {"nl": "welzijn", "en": "welfare"},
    "web.role.housing": {"nl": "wonen", "en": "housing"},
    "web.role.lead": {"nl": "coordinator", "en": "lead"},
    "web.login": {"nl": "Inloggen", "en": "Log in"},
    "web.logout": {"nl": "Uitloggen", "en": "Log out"},
    "web.name": {"nl": "Naam", "en": "Name"},
    "web.password": {"nl": "Wachtwoord", "en": "Password"},
    "web.login_failed": {
        "nl": "Naam of wachtwoord klopt niet.",
        "en": "Wrong name or password.",
    },
    "web.login_blocked": {
        "nl": "Te vaak een verkeerd wachtwoord: probeer het over een kwartier opnieuw.",
        "en": "Too many wrong passwords: try again in a quarter of an hour.",
    },
    "web.login_needed": {
        "nl": "Log eerst in.",
        "en": "Log in first.",
    },
    "web.refused": {"nl": "Niet toegestaan", "en": "Not allowed"},
    "web.csrf": {
        "nl": "Dit formulier is verlopen of komt niet van deze pagina. Laad de pagina opnieuw.",
        "en": "This form has expired or did not come from this page. Reload the page.",
    },
    "web.bad_form": {
        "nl": "Dit formulier kan niet gelezen worden.",
        "en": "Cannot read this form.",
    },
    "web.no_signal": {"nl": "Dit signaal bestaat niet.", "en": "No such signal."},
    "web.not_yours": {
        "nl": "Met de rol {role} mag u signalen van {domain} niet oppakken of sluiten; "
        "bespreken mag wel.",
        "en": "The {role} role may not take on or close signals of {domain}; discussing them "
        "is fine.",
    },
    "web.only_domain": {
        "nl": "Oppakken en sluiten doen {domain} en de coordinator; bespreken mag iedereen.",
        "en": "{domain} and the lead take this on and close it; anyone may discuss it.",
    },
    "web.too_long": {"nl": "Te lange tekst (hooguit {n} tekens).", "en": "Too long (at most {n})."},
    "web.notes_needed": {"nl": "Schrijf op wat besproken is.", "en": "Write what was discussed."},
    "web.bad_week": {"nl": "Geen geldige week: {reason}", "en": "Not a valid week: {reason}"},
    "web.prev_week": {"nl": "vorige week", "en": "previous week"},
    "web.next_week": {"nl": "volgende week", "en": "next week"},
    "web.closed_already": {
        "nl": "Dit signaal is al gesloten.",
        "en": "This signal is closed already.",
    },
    "web.acked_already": {
        "nl": "Dit signaal is al bevestigd.",
        "en": "This signal is acknowledged already.",
    },
    "web.bad_role": {
        "nl": "Geef een domein en een rol, zoals 'wijkverpleegkundige' (letters, cijfers, "
        "_ . -; hooguit 64 tekens).",
        "en": "Give a domain and a role such as 'wijkverpleegkundige' (letters, digits, "
        "_ . -; at most 64 characters).",
    },
    "web.busy": {
        "nl": "Niet opgeslagen: de hub kon het nu niet schrijven. Probeer het zo opnieuw.",
        "en": "Not saved: the hub could not write it just now. Try again in a moment.",
    },
    "web.back": {"nl": "Terug naar de signalen", "en": "Back to the signals"},
    "web.closed_recently": {"nl": "Gesloten (laatste 2 weken)", "en": "Closed (last 2 weeks)"},
    "web.none": {"nl": "Geen.", "en": "None."},
    "web.domain": {"nl": "Domein", "en": "Domain"},
    "web.act": {"nl": "Wat doen we?", "en": "What do we do?"},
    "web.ack": {"nl": "Bevestigen", "en": "Acknowledge"},
    "web.ack_help": {
        "nl": "Iemand gaat kijken: de meldingen stoppen.",
        "en": "Someone goes to look: the alerts stop.",
    },
    "web.assign_me": {"nl": "Ik pak het op", "en": "Assign to me"},
    "web.assign_me_help": {
        "nl": "Toewijzen aan u, voor {domain}.",
        "en": "Assign it to you, for {domain}.",
    },
    "web.assign": {"nl": "Toewijzen", "en": "Assign"},
    "web.assignee": {"nl": "Aan wie (rol)", "en": "To whom (role)"},
    "web.verdict": {"nl": "Oordeel", "en": "Verdict"},
    "web.notes": {"nl": "Notitie", "en": "Notes"},
    "web.close_help": {
        "nl": "Klopt het signaal? De hub stelt zich bij met uw oordeel.",
        "en": "Was the signal right? The hub adjusts to your verdict.",
    },
    "web.close": {"nl": "Sluiten", "en": "Close"},
    "web.discussed": {"nl": "Besproken", "en": "Discussed"},
    "web.discuss": {"nl": "Vastleggen", "en": "Record"},
    "web.failed": {"nl": "Niet gelukt: {reason}", "en": "Did not work: {reason}"},
    "web.done.ack": {"nl": "Bevestigd.", "en": "Acknowledged."},
    "web.done.discuss": {"nl": "Vastgelegd.", "en": "Recorded."},
    "web.done.assign": {"nl": "Toegewezen.", "en": "Assigned."},
    "web.done.close": {
        "nl": "Gesloten; de hub neemt het oordeel mee.",
        "en": "Closed; the hub takes the verdict into account.",
    },
}

HOME_ASSISTANT: T = {
    "ha.push.title": {"nl": "Urgent: {apartment}", "en": "Urgent: {apartment}"},
    "ha.push.ack": {"nl": "Ik ga", "en": "On my way"},
    "ha.push.signal": {"nl": "Signaal", "en": "Signal"},
    "ha.push.taken_title": {"nl": "Bevestigd: {apartment}", "en": "Acknowledged: {apartment}"},
    "ha.push.going": {"nl": "{who} gaat", "en": "{who} is on the way"},
    "ha.push.taken": {"nl": "Bevestigd door {who}", "en": "Acknowledged by {who}"},
    "ha.push.someone": {"nl": "iemand", "en": "someone"},
    "ha.entity.needs_attention": {"nl": "Aandacht nodig", "en": "Needs attention"},
    "ha.entity.last_activity": {"nl": "Laatste activiteit", "en": "Last activity"},
    "ha.entity.presence": {"nl": "Thuis", "en": "Home"},
    "ha.entity.open_signals": {"nl": "Open signalen", "en": "Open signals"},
    "ha.entity.acknowledge": {"nl": "Signaal bevestigen", "en": "Acknowledge signal"},
    "ha.entity.hub_problem": {"nl": "Storing", "en": "Problem"},
    "ha.entity.hub_faults": {"nl": "Storingen", "en": "Faults"},
    "ha.model": {"nl": "Signaalhub", "en": "Signal hub"},
}
"""Home Assistant: the phone pushes, the persistent notification and the entity names."""

HUB: T = {
    "hub.alarm_path": {
        "nl": "Het alarmpad naar {channel} werkt niet: sinds {since} {missed} hartslagen op "
        "rij gemist. Meldingen gaan nog via de andere kanalen; laat de installateur kijken.",
        "en": "The alarm path to {channel} is down: {missed} heartbeats missed in a row "
        "since {since}. Alerts still go through the other channels; have the installer look.",
    },
    "channel.broker": {"nl": "de broker (MQTT)", "en": "the broker (MQTT)"},
    "channel.homeassistant": {"nl": "Home Assistant", "en": "Home Assistant"},
    "channel.webhook": {
        "nl": "het eindpunt (webhook) van {target}",
        "en": "the endpoint (webhook) of {target}",
    },
}
"""The hub's own faults (edge.heartbeat)."""

CATALOGUE: T = {**KINDS, **WORDS, **EVIDENCE, **AGENDA, **WEB, **HOME_ASSISTANT, **HUB}
