// TEMPORARY dev harness, deleted before hand-off.
use redoubt_keyspace::num::*;
fn unhex(h: &str) -> Vec<u8> { (0..h.len()/2).map(|i| u8::from_str_radix(&h[2*i..2*i+2], 16).unwrap()).collect() }
#[test]
fn dev_diff() {
    let Ok(path) = std::env::var("KS_CASES") else { return };
    let out_path = std::env::var("KS_OUT").unwrap();
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let (ha, hb) = line.split_once(' ').unwrap();
        let (a, b) = (unhex(ha), unhex(hb));
        match string2ld(&a) {
            Some(v) => {
                out += &format!("H:{} ", String::from_utf8(ld2string(v, LdStrMode::Human).unwrap()).unwrap());
                out += &format!("A:{} ", String::from_utf8(ld2string(v, LdStrMode::Auto).unwrap()).unwrap());
            }
            None => out += "H:ERR A:ERR ",
        }
        match string2d(&a) { Some(d) => out += &format!("D:{} ", String::from_utf8(d2string(d)).unwrap()), None => out += "D:ERR " }
        match incrbyfloat(&a, &b) {
            Ok(v) => out += &format!("I:{}\n", String::from_utf8(v).unwrap()),
            Err(IncrFloatError::NotAFloat) => out += "I:ERRNOTFLOAT\n",
            Err(_) => out += "I:ERRNANINF\n",
        }
    }
    std::fs::write(out_path, out).unwrap();
}
