//! Addresses as Checkout collects them: the countries Stripe can ship to
//! (with names for the payment page), the US states and Canadian provinces,
//! and the per-country rules the page checks.

/// Stripe's `allowed_countries` list (ISO 3166-1 alpha-2 and a few more), one
/// "code name" a line.
const COUNTRIES: &str = "\
AC Ascension Island
AD Andorra
AE United Arab Emirates
AF Afghanistan
AG Antigua and Barbuda
AI Anguilla
AL Albania
AM Armenia
AO Angola
AQ Antarctica
AR Argentina
AT Austria
AU Australia
AW Aruba
AX Åland Islands
AZ Azerbaijan
BA Bosnia and Herzegovina
BB Barbados
BD Bangladesh
BE Belgium
BF Burkina Faso
BG Bulgaria
BH Bahrain
BI Burundi
BJ Benin
BL Saint Barthélemy
BM Bermuda
BN Brunei
BO Bolivia
BQ Caribbean Netherlands
BR Brazil
BS Bahamas
BT Bhutan
BV Bouvet Island
BW Botswana
BY Belarus
BZ Belize
CA Canada
CD Congo (Kinshasa)
CF Central African Republic
CG Congo (Brazzaville)
CH Switzerland
CI Côte d’Ivoire
CK Cook Islands
CL Chile
CM Cameroon
CN China
CO Colombia
CR Costa Rica
CV Cape Verde
CW Curaçao
CY Cyprus
CZ Czechia
DE Germany
DJ Djibouti
DK Denmark
DM Dominica
DO Dominican Republic
DZ Algeria
EC Ecuador
EE Estonia
EG Egypt
EH Western Sahara
ER Eritrea
ES Spain
ET Ethiopia
FI Finland
FJ Fiji
FK Falkland Islands
FO Faroe Islands
FR France
GA Gabon
GB United Kingdom
GD Grenada
GE Georgia
GF French Guiana
GG Guernsey
GH Ghana
GI Gibraltar
GL Greenland
GM Gambia
GN Guinea
GP Guadeloupe
GQ Equatorial Guinea
GR Greece
GS South Georgia and the South Sandwich Islands
GT Guatemala
GU Guam
GW Guinea-Bissau
GY Guyana
HK Hong Kong
HN Honduras
HR Croatia
HT Haiti
HU Hungary
ID Indonesia
IE Ireland
IL Israel
IM Isle of Man
IN India
IO British Indian Ocean Territory
IQ Iraq
IS Iceland
IT Italy
JE Jersey
JM Jamaica
JO Jordan
JP Japan
KE Kenya
KG Kyrgyzstan
KH Cambodia
KI Kiribati
KM Comoros
KN Saint Kitts and Nevis
KR South Korea
KW Kuwait
KY Cayman Islands
KZ Kazakhstan
LA Laos
LB Lebanon
LC Saint Lucia
LI Liechtenstein
LK Sri Lanka
LR Liberia
LS Lesotho
LT Lithuania
LU Luxembourg
LV Latvia
LY Libya
MA Morocco
MC Monaco
MD Moldova
ME Montenegro
MF Saint Martin
MG Madagascar
MK North Macedonia
ML Mali
MM Myanmar
MN Mongolia
MO Macao
MQ Martinique
MR Mauritania
MS Montserrat
MT Malta
MU Mauritius
MV Maldives
MW Malawi
MX Mexico
MY Malaysia
MZ Mozambique
NA Namibia
NC New Caledonia
NE Niger
NG Nigeria
NI Nicaragua
NL Netherlands
NO Norway
NP Nepal
NR Nauru
NU Niue
NZ New Zealand
OM Oman
PA Panama
PE Peru
PF French Polynesia
PG Papua New Guinea
PH Philippines
PK Pakistan
PL Poland
PM Saint Pierre and Miquelon
PN Pitcairn Islands
PR Puerto Rico
PS Palestinian Territories
PT Portugal
PY Paraguay
QA Qatar
RE Réunion
RO Romania
RS Serbia
RU Russia
RW Rwanda
SA Saudi Arabia
SB Solomon Islands
SC Seychelles
SE Sweden
SG Singapore
SH Saint Helena
SI Slovenia
SJ Svalbard and Jan Mayen
SK Slovakia
SL Sierra Leone
SM San Marino
SN Senegal
SO Somalia
SR Suriname
SS South Sudan
ST São Tomé and Príncipe
SV El Salvador
SX Sint Maarten
SZ Eswatini
TA Tristan da Cunha
TC Turks and Caicos Islands
TD Chad
TF French Southern Territories
TG Togo
TH Thailand
TJ Tajikistan
TK Tokelau
TL Timor-Leste
TM Turkmenistan
TN Tunisia
TO Tonga
TR Türkiye
TT Trinidad and Tobago
TV Tuvalu
TW Taiwan
TZ Tanzania
UA Ukraine
UG Uganda
US United States
UY Uruguay
UZ Uzbekistan
VA Vatican City
VC Saint Vincent and the Grenadines
VE Venezuela
VG British Virgin Islands
VN Vietnam
VU Vanuatu
WF Wallis and Futuna
WS Samoa
XK Kosovo
YE Yemen
YT Mayotte
ZA South Africa
ZM Zambia
ZW Zimbabwe
ZZ Unknown region";

const US_STATES: &str = "\
AL Alabama
AK Alaska
AZ Arizona
AR Arkansas
CA California
CO Colorado
CT Connecticut
DE Delaware
DC District of Columbia
FL Florida
GA Georgia
HI Hawaii
ID Idaho
IL Illinois
IN Indiana
IA Iowa
KS Kansas
KY Kentucky
LA Louisiana
ME Maine
MD Maryland
MA Massachusetts
MI Michigan
MN Minnesota
MS Mississippi
MO Missouri
MT Montana
NE Nebraska
NV Nevada
NH New Hampshire
NJ New Jersey
NM New Mexico
NY New York
NC North Carolina
ND North Dakota
OH Ohio
OK Oklahoma
OR Oregon
PA Pennsylvania
RI Rhode Island
SC South Carolina
SD South Dakota
TN Tennessee
TX Texas
UT Utah
VT Vermont
VA Virginia
WA Washington
WV West Virginia
WI Wisconsin
WY Wyoming";

const CA_PROVINCES: &str = "\
AB Alberta
BC British Columbia
MB Manitoba
NB New Brunswick
NL Newfoundland and Labrador
NS Nova Scotia
NT Northwest Territories
NU Nunavut
ON Ontario
PE Prince Edward Island
QC Quebec
SK Saskatchewan
YT Yukon";

/// `(code, name)` pairs of a "code name" table.
fn entries(table: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    table.lines().filter_map(|line| line.split_once(' '))
}

/// Every country Checkout can ship to, as `(code, name)`.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    entries(COUNTRIES)
}

pub fn name(code: &str) -> Option<&'static str> {
    entries(COUNTRIES)
        .find(|(c, _)| *c == code)
        .map(|(_, name)| name)
}

/// The regions whose code an address in `country` must give as its `state`.
pub fn regions(country: &str) -> Option<&'static str> {
    match country {
        "US" => Some(US_STATES),
        "CA" => Some(CA_PROVINCES),
        _ => None,
    }
}

/// The US states and Canadian provinces, for the page's suggestions.
pub fn region_suggestions() -> impl Iterator<Item = (&'static str, &'static str)> {
    entries(US_STATES).chain(entries(CA_PROVINCES))
}

/// The region code for what was typed (a code or a name, any case), if
/// `country` has listed regions and it is one of them.
pub fn region_code(country: &str, typed: &str) -> Option<&'static str> {
    let typed = typed.trim();
    entries(regions(country)?)
        .find(|(code, name)| code.eq_ignore_ascii_case(typed) || name.eq_ignore_ascii_case(typed))
        .map(|(code, _)| code)
}

/// Postal code shapes by country, `9` a digit and `A` a letter, spaces ignored.
fn postal_shapes(country: &str) -> Option<&'static [&'static str]> {
    Some(match country {
        "US" => &["99999", "99999-9999"],
        "DE" | "FR" => &["99999"],
        "JP" => &["999-9999", "9999999"],
        "CA" => &["A9A9A9"],
        "GB" => &["A99AA", "A999AA", "AA99AA", "AA999AA", "A9A9AA", "AA9A9AA"],
        _ => return None,
    })
}

/// Whether `country` needs a postal code: those with a known shape do.
pub fn requires_postal_code(country: &str) -> bool {
    postal_shapes(country).is_some()
}

/// Checks a postal code: the country's shape where known, otherwise up to 10
/// letters, digits, spaces and hyphens.
pub fn postal_code_ok(country: &str, code: &str) -> bool {
    let code = code.trim();
    match postal_shapes(country) {
        Some(shapes) => {
            let shape: String = code
                .chars()
                .filter(|c| *c != ' ')
                .map(|c| match c {
                    '0'..='9' => '9',
                    c if c.is_ascii_alphabetic() => 'A',
                    c => c,
                })
                .collect();
            shapes.contains(&shape.as_str())
        }
        None => {
            !code.is_empty()
                && code.chars().count() <= 10
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_stripes_countries_and_their_regions() {
        assert_eq!(all().count(), 237);
        assert_eq!(name("DE"), Some("Germany"));
        assert_eq!(name("XX"), None);
        assert_eq!(region_code("US", "ca"), Some("CA"));
        assert_eq!(region_code("US", "new york"), Some("NY"));
        assert_eq!(region_code("CA", "Quebec"), Some("QC"));
        assert_eq!(region_code("US", "Bavaria"), None);
        assert_eq!(region_code("DE", "BY"), None);
    }

    #[test]
    fn checks_postal_codes_by_country() {
        for (country, good, bad) in [
            ("US", "94103", "9410"),
            ("US", "94103-1234", "94103-12"),
            ("GB", "SW1A 1AA", "SW1A 1A"),
            ("GB", "m1 1ae", "1M1 1AE"),
            ("DE", "10115", "1011"),
            ("FR", "75001", "7500A"),
            ("JP", "100-0001", "100-001"),
            ("CA", "K1A 0B1", "K1A 0B"),
            ("NL", "1012 AB", "1012_AB"),
        ] {
            assert!(postal_code_ok(country, good), "{country} {good}");
            assert!(!postal_code_ok(country, bad), "{country} {bad}");
        }
        assert!(requires_postal_code("GB"));
        assert!(!requires_postal_code("NL"));
    }
}
