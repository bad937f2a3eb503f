# SPDX-License-Identifier: MIT
"""Core clock from a board oscillator: ECP5 EHXPLLL / iCE40 SB_PLL40_CORE parameter search.

The searches enumerate the divider ranges of the Lattice datasheets (ECP5: FPGA-TN-02200 "ECP5 and
ECP5-5G sysCLOCK PLL/DLL Design and User Guide"; iCE40: TN1251 "iCE40 sysCLOCK PLL Design and
Usage Guide") and return the setting closest to the wanted frequency.
"""

from dataclasses import dataclass

from amaranth.hdl import ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["PLLSetting", "ecp5_pll", "ice40_pll", "ClockGen"]


@dataclass(frozen=True)
class PLLSetting:
    family: str
    f_in: float
    f_out: float
    params: dict


def ecp5_pll(f_in: float, f_want: float) -> PLLSetting:
    """EHXPLLL with CLKOP feedback: f_out = f_in * FB / CLKI, VCO = f_out * OP in 400..800 MHz,
    PFD = f_in / CLKI in 3.125..400 MHz."""
    best = None
    for clki in range(1, 129):
        pfd = f_in / clki
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for fb in range(1, 81):
            f_out = pfd * fb
            for op in range(1, 129):
                if 400e6 <= f_out * op <= 800e6:
                    error = abs(f_out - f_want)
                    if best is None or error < best[0]:
                        best = (error, clki, fb, op, f_out)
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting makes {f_want / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    _, clki, fb, op, f_out = best
    return PLLSetting("ecp5", f_in, f_out, {"CLKI_DIV": clki, "CLKFB_DIV": fb, "CLKOP_DIV": op})


def ice40_pll(f_in: float, f_want: float) -> PLLSetting:
    """SB_PLL40_CORE (simple feedback): f_out = f_in * (DIVF+1) / ((DIVR+1) * 2**DIVQ),
    PFD = f_in / (DIVR+1) in 10..133 MHz, VCO = PFD * (DIVF+1) in 533..1066 MHz."""
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f_out = vco / 2 ** divq
                error = abs(f_out - f_want)
                if best is None or error < best[0]:
                    best = (error, divr, divf, divq, f_out, pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting makes {f_want / 1e6:g} MHz from {f_in / 1e6:g} MHz")
    _, divr, divf, divq, f_out, pfd = best
    filter_range = next(i for i, top in enumerate((17e6, 26e6, 44e6, 66e6, 101e6, 134e6), 1) if pfd < top)
    return PLLSetting("ice40", f_in, f_out,
                      {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": filter_range})


class ClockGen(Elaboratable):
    """Drives the ``sync`` domain (defined by the caller) from an oscillator signal, through a PLL
    when ``setting`` is given; reset is held until the PLL locks."""

    def __init__(self, clk_in, setting: PLLSetting | None):
        self.clk_in, self.setting = clk_in, setting

    def elaborate(self, platform):
        m = Module()
        s = self.setting
        if s is None:
            m.d.comb += ClockSignal("sync").eq(self.clk_in)
            return m
        clk_out, locked = Signal(), Signal()
        if s.family == "ecp5":
            p = s.params
            m.submodules.pll = Instance(
                "EHXPLLL",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                i_CLKI=self.clk_in, i_CLKFB=clk_out, i_RST=Const(0), i_STDBY=Const(0),
                i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(1),
                i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1), i_PLLWAKESYNC=Const(0),
                i_ENCLKOP=Const(0),
                o_CLKOP=clk_out, o_LOCK=locked,
                a_FREQUENCY_PIN_CLKI=f"{s.f_in / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{s.f_out / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
            )
        else:
            p = s.params
            # the iCE40 oscillator pins that can feed a PLL are its PLL pads: the PLL takes the
            # raw package pin (``clk_in`` is then the port from ``request(..., dir="-")``)
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"],
                p_FILTER_RANGE=p["FILTER_RANGE"],
                i_PACKAGEPIN=self.clk_in, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk_out, o_LOCK=locked,
            )
        m.d.comb += ClockSignal("sync").eq(clk_out)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        return m
