"""Which Kenyan mobile network a number's prefix belongs to, and whether STK Push can reach it.

STK Push puts an M-Pesa PIN prompt on a Safaricom line only (docs/daraja.md §2c): an Airtel, Telkom or
Equitel number is a valid Kenyan mobile number that no push can reach. The allocation below is the ONE
place to update when the Communications Authority of Kenya hands out new prefixes.

Sources (each confirms the rows it names; see docs/daraja.md §2c):
- Communications Authority of Kenya, 01xx release, 30 April 2019: Safaricom 0110–0111, Airtel 0100–0102
  (https://www.cio.co.ke/ca-unveils-new-prefix-for-sim-card-numbering/,
  https://www.standardmedia.co.ke/business/article/2001323442/kenyans-to-get-new-phone-numbers-as-07-runs-out).
- Safaricom press release, 18 February 2020: "070X, 071X, 072X, 074X, 0757, 0758, 0759, 0768, 0769 and
  079X" plus 0110 and 0111 (https://www.kachwanya.com/2020/02/19/safaricom-does-not-need-new-prefixes-to-add-2-million-subscribers-to-its-network/).
- Airtel 0730–0739, 0750–0756, 0785–0789 per the Authority (https://techweez.com/2019/04/10/airtel-kenya-new-prefixes/);
  Telkom 0770–0775 and Airtel 0780–0782 in Google's libphonenumber
  (https://github.com/google/libphonenumber/blob/master/resources/carrier/en/254.txt).
- The per-prefix list derived from https://en.wikipedia.org/wiki/Telephone_numbers_in_Kenya#Mobile_phone_numbers
  as kept in https://gist.github.com/morrismukiri/920494322a47d9485bbc (June 2024): Safaricom 0740–0743, 0745,
  0746, 0748, 0112–0115; Airtel 0762, 0783–0784, 0103–0108; Telkom 077x; Faiba 0747; Equitel 0763–0766.

Mobile number portability lets a line keep its prefix on another network; ports are rare and the
prefix is all a till can see, so a ported number is judged by its prefix.
"""

from __future__ import annotations

from enum import StrEnum


class Network(StrEnum):
    SAFARICOM = "Safaricom"
    AIRTEL = "Airtel"
    TELKOM = "Telkom"
    EQUITEL = "Equitel"  # Finserve Africa (Equity Bank's MVNO)
    FAIBA = "Faiba"  # Jamii Telecommunications
    UNKNOWN = "unknown"  # a prefix this table does not list (unallocated, or allocated since)

    @property
    def stk_push_reaches(self) -> bool:
        """STK Push (M-Pesa Express) prompts Safaricom M-Pesa lines only (docs/daraja.md §2c)."""
        return self is Network.SAFARICOM


def _span(first: int, last: int) -> tuple[str, ...]:
    return tuple(str(n) for n in range(first, last + 1))


#: Local prefixes (the digits after 254 or 0) by network. A two-digit prefix covers its ten
#: three-digit ones. Keep it sorted by network; the tests check no prefix is listed twice.
ALLOCATION: dict[Network, tuple[str, ...]] = {
    Network.SAFARICOM: (
        "70",
        "71",
        "72",
        *_span(740, 743),
        "745",
        "746",
        "748",
        *_span(757, 759),
        "768",
        "769",
        "79",
        *_span(110, 115),
    ),
    Network.AIRTEL: ("73", *_span(750, 756), "762", "78", *_span(100, 108)),
    Network.TELKOM: ("77",),
    Network.EQUITEL: _span(763, 766),
    Network.FAIBA: ("747",),
}

_BY_PREFIX: dict[str, Network] = {
    prefix: network for network, prefixes in ALLOCATION.items() for prefix in prefixes
}


def network_of(msisdn: str) -> Network:
    """The network of a normalised MSISDN (`2547XXXXXXXX`/`2541XXXXXXXX`), by its longest known prefix.

    Anything else (not normalised, or a prefix the table does not list) is `Network.UNKNOWN`.
    """
    if len(msisdn) != 12 or not msisdn.isascii() or not msisdn.isdigit() or not msisdn.startswith("254"):
        return Network.UNKNOWN
    local = msisdn[3:]
    return _BY_PREFIX.get(local[:3]) or _BY_PREFIX.get(local[:2]) or Network.UNKNOWN


def stk_push_reaches(msisdn: str) -> bool:
    """True when an STK Push to this normalised MSISDN can put a prompt on the phone."""
    return network_of(msisdn).stk_push_reaches
