"""The simulated world: cities, carriers with their own event codes, and the trade lanes.

Carriers speak their own language: every carrier has its own raw event code and description
(in the carrier's language) for each :class:`Milestone` it handles; the simulator reports the
normalized sub-status next to them, as a carrier integration would after mapping. First-mile
carriers (cainiao, yanwen, 4px, ptt) take the parcel from the seller to customs clearance in
the destination country; last-mile carriers (the destination posts) deliver it, possibly under
their own tracking number.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

from schemas.status import SubStatus


class Milestone(StrEnum):
    """A step of a parcel's journey; :attr:`sub_status` is what it reports."""

    LABEL = "LABEL"
    PICKUP = "PICKUP"
    SORT_IN = "SORT_IN"
    SORT_OUT = "SORT_OUT"
    EXPORT_START = "EXPORT_START"
    EXPORT_DONE = "EXPORT_DONE"
    LINEHAUL_DEPART = "LINEHAUL_DEPART"
    LINEHAUL_ARRIVE = "LINEHAUL_ARRIVE"
    IMPORT_START = "IMPORT_START"
    IMPORT_HOLD = "IMPORT_HOLD"
    IMPORT_DONE = "IMPORT_DONE"
    HANDOVER = "HANDOVER"
    HUB_IN = "HUB_IN"
    HUB_OUT = "HUB_OUT"
    OFFICE_IN = "OFFICE_IN"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    SAFE_PLACE = "SAFE_PLACE"
    PICKUP_POINT = "PICKUP_POINT"
    COLLECTED = "COLLECTED"
    ABSENT = "ABSENT"
    BAD_ADDRESS = "BAD_ADDRESS"
    NO_SAFE_PLACE = "NO_SAFE_PLACE"
    REFUSED = "REFUSED"
    RETURN_START = "RETURN_START"
    RETURNED = "RETURNED"
    LOST = "LOST"

    @property
    def sub_status(self) -> SubStatus:
        return _SUB_STATUS[self]


_SUB_STATUS: Mapping[Milestone, SubStatus] = {
    Milestone.LABEL: SubStatus.LABEL_CREATED,
    Milestone.PICKUP: SubStatus.PICKED_UP,
    Milestone.SORT_IN: SubStatus.ARRIVED_AT_FACILITY,
    Milestone.SORT_OUT: SubStatus.DEPARTED_FACILITY,
    Milestone.EXPORT_START: SubStatus.CUSTOMS_PROCESSING,
    Milestone.EXPORT_DONE: SubStatus.CUSTOMS_RELEASED,
    Milestone.LINEHAUL_DEPART: SubStatus.DEPARTED_FACILITY,
    Milestone.LINEHAUL_ARRIVE: SubStatus.ARRIVED_AT_FACILITY,
    Milestone.IMPORT_START: SubStatus.CUSTOMS_PROCESSING,
    Milestone.IMPORT_HOLD: SubStatus.CUSTOMS_HOLD,
    Milestone.IMPORT_DONE: SubStatus.CUSTOMS_RELEASED,
    Milestone.HANDOVER: SubStatus.HANDED_TO_LAST_MILE,
    Milestone.HUB_IN: SubStatus.ARRIVED_AT_FACILITY,
    Milestone.HUB_OUT: SubStatus.DEPARTED_FACILITY,
    Milestone.OFFICE_IN: SubStatus.ARRIVED_AT_FACILITY,
    Milestone.OUT_FOR_DELIVERY: SubStatus.OUT_FOR_DELIVERY,
    Milestone.DELIVERED: SubStatus.DELIVERED_TO_RECIPIENT,
    Milestone.SAFE_PLACE: SubStatus.LEFT_IN_SAFE_PLACE,
    Milestone.PICKUP_POINT: SubStatus.AT_PICKUP_POINT,
    Milestone.COLLECTED: SubStatus.COLLECTED_FROM_PICKUP_POINT,
    Milestone.ABSENT: SubStatus.RECIPIENT_ABSENT,
    Milestone.BAD_ADDRESS: SubStatus.ADDRESS_ISSUE,
    Milestone.NO_SAFE_PLACE: SubStatus.NO_SAFE_PLACE,
    Milestone.REFUSED: SubStatus.REFUSED,
    Milestone.RETURN_START: SubStatus.RETURNING,
    Milestone.RETURNED: SubStatus.RETURNED_TO_SENDER,
    Milestone.LOST: SubStatus.LOST,
}

FIRST_MILE = frozenset(
    {
        Milestone.LABEL,
        Milestone.PICKUP,
        Milestone.SORT_IN,
        Milestone.SORT_OUT,
        Milestone.EXPORT_START,
        Milestone.EXPORT_DONE,
        Milestone.LINEHAUL_DEPART,
        Milestone.LINEHAUL_ARRIVE,
        Milestone.IMPORT_START,
        Milestone.IMPORT_HOLD,
        Milestone.IMPORT_DONE,
        Milestone.HANDOVER,
        Milestone.LOST,
    }
)
"""Milestones a first-mile (origin and line-haul) carrier reports."""

LAST_MILE = frozenset(
    {
        Milestone.HUB_IN,
        Milestone.HUB_OUT,
        Milestone.OFFICE_IN,
        Milestone.OUT_FOR_DELIVERY,
        Milestone.DELIVERED,
        Milestone.SAFE_PLACE,
        Milestone.PICKUP_POINT,
        Milestone.COLLECTED,
        Milestone.ABSENT,
        Milestone.BAD_ADDRESS,
        Milestone.NO_SAFE_PLACE,
        Milestone.REFUSED,
        Milestone.RETURN_START,
        Milestone.RETURNED,
        Milestone.LOST,
    }
)
"""Milestones a last-mile (destination) carrier reports."""


@dataclass(frozen=True, slots=True)
class City:
    """A real city: where sellers ship from, sorting centers stand and buyers live."""

    name: str
    country: str
    latitude: float
    longitude: float
    timezone: str
    """IANA time zone: events carry the real UTC offset of their place and time."""
    code: str
    """Short code used in facility ids (the IATA code of the city's airport)."""

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def distance_km(self, other: City) -> float:
        """Great-circle distance to ``other``."""
        p1, p2 = math.radians(self.latitude), math.radians(other.latitude)
        dp, dl = p2 - p1, math.radians(other.longitude - self.longitude)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


@cache
def _zone(name: str) -> ZoneInfo:
    # ZoneInfo's own cache keeps few zones alive; the simulator converts times constantly.
    return ZoneInfo(name)


CITIES: Mapping[str, City] = {
    city.name: city
    for city in (
        City("Shenzhen", "CN", 22.5431, 114.0579, "Asia/Shanghai", "SZX"),
        City("Guangzhou", "CN", 23.1291, 113.2644, "Asia/Shanghai", "CAN"),
        City("Dongguan", "CN", 23.0205, 113.7518, "Asia/Shanghai", "DGM"),
        City("Yiwu", "CN", 29.3069, 120.0760, "Asia/Shanghai", "YIW"),
        City("Hangzhou", "CN", 30.2741, 120.1551, "Asia/Shanghai", "HGH"),
        City("Shanghai", "CN", 31.2304, 121.4737, "Asia/Shanghai", "PVG"),
        City("Istanbul", "TR", 41.0082, 28.9784, "Europe/Istanbul", "IST"),
        City("Izmir", "TR", 38.4237, 27.1428, "Europe/Istanbul", "ADB"),
        City("Bursa", "TR", 40.1885, 29.0610, "Europe/Istanbul", "YEI"),
        City("Madrid", "ES", 40.4168, -3.7038, "Europe/Madrid", "MAD"),
        City("Barcelona", "ES", 41.3874, 2.1686, "Europe/Madrid", "BCN"),
        City("Valencia", "ES", 39.4699, -0.3763, "Europe/Madrid", "VLC"),
        City("Sevilla", "ES", 37.3891, -5.9845, "Europe/Madrid", "SVQ"),
        City("Bilbao", "ES", 43.2630, -2.9350, "Europe/Madrid", "BIO"),
        City("Zaragoza", "ES", 41.6488, -0.8891, "Europe/Madrid", "ZAZ"),
        City("Curitiba", "BR", -25.4284, -49.2733, "America/Sao_Paulo", "CWB"),
        City("Sao Paulo", "BR", -23.5505, -46.6333, "America/Sao_Paulo", "GRU"),
        City("Rio de Janeiro", "BR", -22.9068, -43.1729, "America/Sao_Paulo", "GIG"),
        City("Belo Horizonte", "BR", -19.9167, -43.9345, "America/Sao_Paulo", "CNF"),
        City("Porto Alegre", "BR", -30.0346, -51.2177, "America/Sao_Paulo", "POA"),
        City("Recife", "BR", -8.0476, -34.8770, "America/Recife", "REC"),
        City("Los Angeles", "US", 34.0522, -118.2437, "America/Los_Angeles", "LAX"),
        City("New York", "US", 40.7128, -74.0060, "America/New_York", "JFK"),
        City("Chicago", "US", 41.8781, -87.6298, "America/Chicago", "ORD"),
        City("Houston", "US", 29.7604, -95.3698, "America/Chicago", "IAH"),
        City("Seattle", "US", 47.6062, -122.3321, "America/Los_Angeles", "SEA"),
        City("Miami", "US", 25.7617, -80.1918, "America/New_York", "MIA"),
        City("Roissy-en-France", "FR", 49.0097, 2.5479, "Europe/Paris", "CDG"),
        City("Paris", "FR", 48.8566, 2.3522, "Europe/Paris", "PAR"),
        City("Lyon", "FR", 45.7640, 4.8357, "Europe/Paris", "LYS"),
        City("Marseille", "FR", 43.2965, 5.3698, "Europe/Paris", "MRS"),
        City("Toulouse", "FR", 43.6047, 1.4442, "Europe/Paris", "TLS"),
        City("Lille", "FR", 50.6292, 3.0573, "Europe/Paris", "LIL"),
        City("Hoofddorp", "NL", 52.3025, 4.6889, "Europe/Amsterdam", "AMS"),
        City("Amsterdam", "NL", 52.3676, 4.9041, "Europe/Amsterdam", "ADM"),
        City("Rotterdam", "NL", 51.9244, 4.4777, "Europe/Amsterdam", "RTM"),
        City("Utrecht", "NL", 52.0907, 5.1214, "Europe/Amsterdam", "UTC"),
        City("Eindhoven", "NL", 51.4416, 5.4697, "Europe/Amsterdam", "EIN"),
        City("Groningen", "NL", 53.2194, 6.5665, "Europe/Amsterdam", "GRQ"),
        City("Leipzig", "DE", 51.3397, 12.3731, "Europe/Berlin", "LEJ"),
        City("Berlin", "DE", 52.5200, 13.4050, "Europe/Berlin", "BER"),
        City("Hamburg", "DE", 53.5511, 9.9937, "Europe/Berlin", "HAM"),
        City("Munich", "DE", 48.1351, 11.5820, "Europe/Berlin", "MUC"),
        City("Cologne", "DE", 50.9375, 6.9603, "Europe/Berlin", "CGN"),
        City("Frankfurt", "DE", 50.1109, 8.6821, "Europe/Berlin", "FRA"),
    )
}


TrackingNumbers = Callable[[random.Random], str]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _letters(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(count))


def s10(prefix: str, country: str) -> TrackingNumbers:
    """UPU S10 item identifiers (e.g. ``RR123456785TR``), with their check digit."""

    def make(rng: random.Random) -> str:
        serial = _digits(rng, 8)
        total = sum(int(d) * w for d, w in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
        check = 11 - total % 11
        check = {10: 0, 11: 5}.get(check, check)
        return f"{prefix}{serial}{check}{country}"

    return make


def pattern(head: str, digits: int, tail: str = "", letters: int = 0) -> TrackingNumbers:
    """Tracking numbers made of a fixed head, random letters, random digits and a fixed tail."""

    def make(rng: random.Random) -> str:
        return f"{head}{_letters(rng, letters)}{_digits(rng, digits)}{tail}"

    return make


@dataclass(frozen=True, slots=True)
class Carrier:
    """A carrier: its slug (the ``carrier`` field), tracking numbers and raw event vocabulary."""

    slug: str
    name: str
    tracking_numbers: TrackingNumbers
    events: Mapping[Milestone, tuple[str, str]]
    """The carrier's raw event code and description for each milestone it reports."""
    latency_minutes: tuple[float, float] = (1.0, 20.0)
    """How long its events take to reach tracecode (API push or polling interval)."""

    def raw_event(self, milestone: Milestone) -> tuple[str, str]:
        """The raw code and description the carrier uses for ``milestone``."""
        return self.events[milestone]


_M = Milestone

CARRIERS: Mapping[str, Carrier] = {
    carrier.slug: carrier
    for carrier in (
        Carrier(
            "cainiao",
            "Cainiao",
            pattern("LP00", 12),
            {
                _M.LABEL: (
                    "GWMS_ORDER_CREATED",
                    "Order information received by logistics provider",
                ),
                _M.PICKUP: ("PU_PICKUP_SUCCESS", "Package picked up by courier"),
                _M.SORT_IN: ("SC_INBOUND_SUCCESS", "Arrived at sorting center"),
                _M.SORT_OUT: ("SC_OUTBOUND_SUCCESS", "Departed from sorting center"),
                _M.EXPORT_START: ("CC_EX_START", "Export customs clearance started"),
                _M.EXPORT_DONE: ("CC_EX_SUCCESS", "Export customs clearance complete"),
                _M.LINEHAUL_DEPART: ("LH_DEPART", "Departed from departure country/region"),
                _M.LINEHAUL_ARRIVE: ("LH_ARRIVE", "Arrived at destination country/region"),
                _M.IMPORT_START: ("CC_IM_START", "Import customs clearance started"),
                _M.IMPORT_HOLD: ("CC_IM_EXCEPTION", "Held by customs: documents required"),
                _M.IMPORT_DONE: ("CC_IM_SUCCESS", "Import customs clearance complete"),
                _M.HANDOVER: ("CC_HO_OUT_SUCCESS", "Handed over to last-mile carrier"),
                _M.LOST: ("LOST_CLOSED", "Package lost in transit, compensation initiated"),
            },
        ),
        Carrier(
            "yanwen",
            "Yanwen Logistics",
            s10("UG", "YP"),
            {
                _M.LABEL: ("YW100", "Shipment information received"),
                _M.PICKUP: ("YW110", "Picked up by Yanwen"),
                _M.SORT_IN: ("YW200", "Arrived at Yanwen processing center"),
                _M.SORT_OUT: ("YW210", "Departed Yanwen processing center"),
                _M.EXPORT_START: ("YW300", "Export clearance in progress"),
                _M.EXPORT_DONE: ("YW310", "Export clearance released"),
                _M.LINEHAUL_DEPART: ("YW400", "Flight departed"),
                _M.LINEHAUL_ARRIVE: ("YW410", "Flight arrived in destination country"),
                _M.IMPORT_START: ("YW500", "Import clearance in progress"),
                _M.IMPORT_HOLD: ("YW505", "Import clearance delayed: held by customs"),
                _M.IMPORT_DONE: ("YW510", "Import clearance released"),
                _M.HANDOVER: ("YW600", "Handed over to local delivery partner"),
                _M.LOST: ("YW900", "Shipment lost"),
            },
        ),
        Carrier(
            "4px",
            "4PX Express",
            pattern("4PX3", 12, "CN"),
            {
                _M.LABEL: ("FPX_L_RPIF", "Parcel information received"),
                _M.PICKUP: ("FPX_C_SPLS", "Shipment picked up"),
                _M.SORT_IN: ("FPX_C_AAF", "Arrived at 4PX facility"),
                _M.SORT_OUT: ("FPX_C_ADFF", "Departed 4PX facility"),
                _M.EXPORT_START: ("FPX_E_ECIP", "Export customs clearance in progress"),
                _M.EXPORT_DONE: ("FPX_E_ECCP", "Export customs clearance completed"),
                _M.LINEHAUL_DEPART: ("FPX_I_DOF", "Departed from origin airport"),
                _M.LINEHAUL_ARRIVE: ("FPX_I_AAD", "Arrived at destination airport"),
                _M.IMPORT_START: ("FPX_I_ICIP", "Import customs clearance in progress"),
                _M.IMPORT_HOLD: ("FPX_I_ICHD", "Held by import customs"),
                _M.IMPORT_DONE: ("FPX_I_ICCP", "Import customs clearance completed"),
                _M.HANDOVER: ("FPX_D_HTLC", "Handed to last-mile carrier"),
                _M.LOST: ("FPX_X_LOST", "Parcel lost, claim opened"),
            },
        ),
        Carrier(
            "ptt",
            "PTT Kargo",
            s10("RR", "TR"),
            {
                _M.LABEL: ("KAYIT", "Gönderi bilgisi alındı"),
                _M.PICKUP: ("KABUL", "Gönderi kabul edildi"),
                _M.SORT_IN: ("IM_VARIS", "Gönderi işlem merkezine ulaştı"),
                _M.SORT_OUT: ("IM_CIKIS", "Gönderi işlem merkezinden çıktı"),
                _M.EXPORT_START: ("GUM_CIKIS_BAS", "İhracat gümrük işlemleri başladı"),
                _M.EXPORT_DONE: ("GUM_CIKIS_TAM", "İhracat gümrük işlemleri tamamlandı"),
                _M.LINEHAUL_DEPART: ("YD_SEVK", "Gönderi yurt dışına sevk edildi"),
                _M.LINEHAUL_ARRIVE: ("YD_VARIS", "Gönderi varış ülkesine ulaştı"),
                _M.IMPORT_START: ("GUM_VARIS_BAS", "Varış ülkesinde gümrük işlemleri başladı"),
                _M.IMPORT_HOLD: ("GUM_BEKLEME", "Gönderi gümrükte bekletiliyor"),
                _M.IMPORT_DONE: ("GUM_VARIS_TAM", "Varış ülkesinde gümrük işlemleri tamamlandı"),
                _M.HANDOVER: ("DAGITICI_TESLIM", "Gönderi dağıtım firmasına teslim edildi"),
                _M.LOST: ("KAYIP", "Gönderi kayboldu"),
            },
        ),
        Carrier(
            "correos",
            "Correos",
            pattern("PQ", 16, "ES", letters=2),
            {
                _M.HUB_IN: ("CTA_ADM", "Admitido en centro de tratamiento"),
                _M.HUB_OUT: ("CTA_SAL", "En tránsito"),
                _M.OFFICE_IN: ("OF_LLEG", "Llegada a la oficina de destino"),
                _M.OUT_FOR_DELIVERY: ("EN_REPARTO", "En proceso de entrega"),
                _M.DELIVERED: ("ENTREGADO", "Entregado"),
                _M.SAFE_PLACE: ("ENT_BUZON", "Entregado en buzón"),
                _M.PICKUP_POINT: ("DISP_OF", "Disponible para recoger en oficina"),
                _M.COLLECTED: ("ENT_OF", "Entregado en oficina"),
                _M.ABSENT: ("AUSENTE", "Destinatario ausente: se intentará de nuevo"),
                _M.BAD_ADDRESS: ("DIR_INC", "Dirección incorrecta"),
                _M.NO_SAFE_PLACE: ("NO_BUZON", "No cabe en buzón: sin lugar seguro"),
                _M.REFUSED: ("REHUSADO", "Rehusado por el destinatario"),
                _M.RETURN_START: ("DEVOL", "En devolución al remitente"),
                _M.RETURNED: ("DEVUELTO", "Devuelto al remitente"),
                _M.LOST: ("EXTRAVIADO", "Envío extraviado"),
            },
            latency_minutes=(5.0, 120.0),
        ),
        Carrier(
            "correios",
            "Correios",
            s10("OO", "BR"),
            {
                _M.HUB_IN: ("RO", "Objeto recebido na unidade de tratamento"),
                _M.HUB_OUT: ("DO", "Objeto encaminhado"),
                _M.OFFICE_IN: ("RO_CDD", "Objeto recebido na unidade de distribuição"),
                _M.OUT_FOR_DELIVERY: ("OEC", "Objeto saiu para entrega ao destinatário"),
                _M.DELIVERED: ("BDE_01", "Objeto entregue ao destinatário"),
                _M.SAFE_PLACE: ("BDE_23", "Objeto entregue na caixa de correio"),
                _M.PICKUP_POINT: ("LDI", "Objeto aguardando retirada na agência"),
                _M.COLLECTED: ("BDI_01", "Objeto entregue ao destinatário na agência"),
                _M.ABSENT: ("BDE_20", "Carteiro não atendido: entrega não realizada"),
                _M.BAD_ADDRESS: ("BDE_03", "Endereço insuficiente para entrega"),
                _M.NO_SAFE_PLACE: ("BDE_33", "Entrega não realizada: local sem condições"),
                _M.REFUSED: ("BDE_08", "Objeto recusado pelo destinatário"),
                _M.RETURN_START: ("BDE_09", "Objeto em devolução ao remetente"),
                _M.RETURNED: ("BDR_01", "Objeto devolvido ao remetente"),
                _M.LOST: ("BDE_55", "Objeto extraviado"),
            },
            latency_minutes=(5.0, 120.0),
        ),
        Carrier(
            "usps",
            "USPS",
            pattern("9400", 18),
            {
                _M.HUB_IN: ("10", "Arrived at USPS Regional Facility"),
                _M.HUB_OUT: ("L1", "Departed USPS Regional Facility"),
                _M.OFFICE_IN: ("07", "Arrived at Post Office"),
                _M.OUT_FOR_DELIVERY: ("OF", "Out for Delivery"),
                _M.DELIVERED: ("01", "Delivered, Left with Individual"),
                _M.SAFE_PLACE: ("01", "Delivered, In/At Mailbox"),
                _M.PICKUP_POINT: ("14", "Available for Pickup"),
                _M.COLLECTED: ("01", "Delivered, Individual Picked Up at Post Office"),
                _M.ABSENT: ("02", "Notice Left (No Authorized Recipient Available)"),
                _M.BAD_ADDRESS: ("04", "Insufficient Address"),
                _M.NO_SAFE_PLACE: ("02", "Notice Left (No Secure Location Available)"),
                _M.REFUSED: ("21", "Refused"),
                _M.RETURN_START: ("09", "Return to Sender Processed"),
                _M.RETURNED: ("RS", "Delivered to Original Sender"),
                _M.LOST: ("LO", "Lost"),
            },
            latency_minutes=(5.0, 120.0),
        ),
        Carrier(
            "laposte",
            "La Poste Colissimo",
            pattern("6A", 11),
            {
                _M.HUB_IN: ("PCHTRI", "Votre colis est arrivé sur sa plateforme de tri"),
                _M.HUB_OUT: ("ETAPRE", "Votre colis a quitté la plateforme de tri"),
                _M.OFFICE_IN: ("DCHCFM", "Votre colis est arrivé sur son site de distribution"),
                _M.OUT_FOR_DELIVERY: ("MLVARS", "Votre colis est en cours de livraison"),
                _M.DELIVERED: ("LIVCFM", "Votre colis a été livré"),
                _M.SAFE_PLACE: ("LIVBAL", "Votre colis a été déposé dans votre boîte aux lettres"),
                _M.PICKUP_POINT: (
                    "AARCFM",
                    "Votre colis est disponible dans votre point de retrait",
                ),
                _M.COLLECTED: ("LIVRTI", "Votre colis a été remis en point de retrait"),
                _M.ABSENT: ("AVSABS", "Destinataire absent: avis de passage déposé"),
                _M.BAD_ADDRESS: ("NPIADR", "Adresse incomplète ou erronée"),
                _M.NO_SAFE_PLACE: ("AVSBAL", "Boîte aux lettres inaccessible"),
                _M.REFUSED: ("RENREF", "Le destinataire a refusé le colis"),
                _M.RETURN_START: ("RENEXP", "Votre colis est retourné à l'expéditeur"),
                _M.RETURNED: ("RENLIV", "Votre colis a été livré à l'expéditeur"),
                _M.LOST: ("PERDU", "Votre colis est déclaré perdu"),
            },
            latency_minutes=(5.0, 120.0),
        ),
        Carrier(
            "postnl",
            "PostNL",
            pattern("3S", 7, letters=4),
            {
                _M.HUB_IN: ("B01", "Zending is gesorteerd"),
                _M.HUB_OUT: ("J05", "Zending is onderweg"),
                _M.OFFICE_IN: ("J01", "Zending is bij het distributiecentrum"),
                _M.OUT_FOR_DELIVERY: ("J40", "Bezorger is onderweg"),
                _M.DELIVERED: ("I01", "Zending is bezorgd"),
                _M.SAFE_PLACE: ("I03", "Zending is bezorgd in de brievenbus"),
                _M.PICKUP_POINT: ("I05", "Zending ligt klaar bij het PostNL-punt"),
                _M.COLLECTED: ("I06", "Zending is opgehaald bij het PostNL-punt"),
                _M.ABSENT: ("H01", "Ontvanger niet thuis, nieuwe poging morgen"),
                _M.BAD_ADDRESS: ("H05", "Adres onvolledig"),
                _M.NO_SAFE_PLACE: ("H02", "Geen veilige plek gevonden"),
                _M.REFUSED: ("H10", "Zending geweigerd door ontvanger"),
                _M.RETURN_START: ("G01", "Zending wordt teruggestuurd naar afzender"),
                _M.RETURNED: ("G02", "Zending is terug bij afzender"),
                _M.LOST: ("X99", "Zending is vermist"),
            },
            latency_minutes=(5.0, 120.0),
        ),
        Carrier(
            "dhl",
            "DHL Paket",
            pattern("00340434", 12),
            {
                _M.HUB_IN: ("PZE", "Die Sendung ist im Paketzentrum eingetroffen"),
                _M.HUB_OUT: ("PZA", "Die Sendung hat das Paketzentrum verlassen"),
                _M.OFFICE_IN: ("ZSZ", "Die Sendung ist im Zustellstützpunkt eingetroffen"),
                _M.OUT_FOR_DELIVERY: ("ZU", "Die Sendung wurde in das Zustellfahrzeug geladen"),
                _M.DELIVERED: ("ZZ", "Die Sendung wurde erfolgreich zugestellt"),
                _M.SAFE_PLACE: ("ZAO", "Die Sendung wurde am Ablageort zugestellt"),
                _M.PICKUP_POINT: ("FIL", "Die Sendung liegt in der Filiale zur Abholung bereit"),
                _M.COLLECTED: ("ABH", "Die Sendung wurde in der Filiale abgeholt"),
                _M.ABSENT: ("BNK", "Empfänger nicht angetroffen: Benachrichtigungskarte"),
                _M.BAD_ADDRESS: ("ADR", "Adresse unzureichend"),
                _M.NO_SAFE_PLACE: ("KAO", "Kein Ablageort möglich"),
                _M.REFUSED: ("ANV", "Annahme verweigert"),
                _M.RETURN_START: ("RUE", "Die Sendung wird an den Absender zurückgeschickt"),
                _M.RETURNED: ("RZA", "Die Sendung wurde an den Absender zugestellt"),
                _M.LOST: ("VER", "Die Sendung ist verloren gegangen"),
            },
            latency_minutes=(5.0, 120.0),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Lane:
    """A cross-border trade lane: where parcels start, which facilities they pass, who carries
    them and where buyers live."""

    name: str
    weight: float
    """Share of all shipments on this lane, relative to the other lanes."""
    origins: tuple[str, ...]
    """Seller cities."""
    sort_hub: str
    """Origin sorting center."""
    export_gateway: str
    """Airport where export customs clear and the line-haul flight leaves."""
    import_gateway: str
    """Airport where the flight lands and import customs clear."""
    delivery_hub: str
    """The last-mile carrier's sorting center."""
    destinations: tuple[str, ...]
    """Buyer cities."""
    first_mile: Mapping[str, float]
    """First-mile carrier slug -> relative weight."""
    last_mile: str
    """Last-mile carrier slug."""
    promised_days: tuple[int, int]
    """Range of delivery days the marketplace promises buyers."""

    @property
    def origin_country(self) -> str:
        return CITIES[self.origins[0]].country

    @property
    def destination_country(self) -> str:
        return CITIES[self.destinations[0]].country


LANES: tuple[Lane, ...] = (
    Lane(
        "CN->US",
        0.24,
        ("Shenzhen", "Dongguan", "Yiwu", "Shanghai"),
        "Shanghai",
        "Shanghai",
        "Los Angeles",
        "Los Angeles",
        ("New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Miami"),
        {"4px": 0.5, "yanwen": 0.3, "cainiao": 0.2},
        "usps",
        (12, 20),
    ),
    Lane(
        "CN->BR",
        0.18,
        ("Shenzhen", "Guangzhou", "Yiwu", "Hangzhou"),
        "Shenzhen",
        "Shenzhen",
        "Curitiba",
        "Curitiba",
        ("Sao Paulo", "Rio de Janeiro", "Belo Horizonte", "Porto Alegre", "Recife", "Curitiba"),
        {"cainiao": 0.6, "4px": 0.4},
        "correios",
        (20, 35),
    ),
    Lane(
        "CN->ES",
        0.15,
        ("Shenzhen", "Guangzhou", "Yiwu", "Dongguan"),
        "Guangzhou",
        "Guangzhou",
        "Madrid",
        "Madrid",
        ("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza"),
        {"cainiao": 0.7, "yanwen": 0.3},
        "correos",
        (10, 20),
    ),
    Lane(
        "CN->FR",
        0.12,
        ("Shenzhen", "Guangzhou", "Yiwu"),
        "Guangzhou",
        "Guangzhou",
        "Roissy-en-France",
        "Roissy-en-France",
        ("Paris", "Lyon", "Marseille", "Toulouse", "Lille"),
        {"cainiao": 0.6, "yanwen": 0.4},
        "laposte",
        (10, 20),
    ),
    Lane(
        "CN->DE",
        0.10,
        ("Shenzhen", "Guangzhou", "Yiwu"),
        "Guangzhou",
        "Guangzhou",
        "Leipzig",
        "Leipzig",
        ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt"),
        {"cainiao": 0.6, "yanwen": 0.4},
        "dhl",
        (10, 20),
    ),
    Lane(
        "CN->NL",
        0.08,
        ("Shenzhen", "Hangzhou", "Yiwu"),
        "Shanghai",
        "Shanghai",
        "Hoofddorp",
        "Utrecht",
        ("Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Groningen"),
        {"cainiao": 0.5, "4px": 0.5},
        "postnl",
        (10, 18),
    ),
    Lane(
        "TR->DE",
        0.13,
        ("Istanbul", "Izmir", "Bursa"),
        "Istanbul",
        "Istanbul",
        "Leipzig",
        "Leipzig",
        ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt"),
        {"ptt": 1.0},
        "dhl",
        (7, 14),
    ),
)
"""The simulated lanes; weights sum to 1."""
