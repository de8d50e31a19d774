"""The simulator's built-in Galaxies: the demo water plant and large generated ones."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from mxgateway.simulator.galaxy import (
    CATEGORY_AREA,
    CATEGORY_ENGINE,
    MX_BIG_STRING,
    MX_BOOLEAN,
    MX_DATA_QUALITY,
    MX_DATA_TYPE_ENUM,
    MX_DOUBLE,
    MX_ELAPSED_TIME,
    MX_FLOAT,
    MX_INTEGER,
    MX_INTERNATIONALIZED_STRING,
    MX_NO_DATA,
    MX_QUALIFIED_ENUM,
    MX_QUALIFIED_STRUCT,
    MX_REFERENCE,
    MX_SECURITY_CLASSIFICATION_ENUM,
    MX_STATUS,
    MX_STRING,
    MX_TIME,
    SECURITY_OPERATE,
    SECURITY_SECURED_WRITE,
    SECURITY_TUNE,
    SECURITY_VERIFIED_WRITE,
    SECURITY_VIEW_ONLY,
    AlarmDefinition,
    Galaxy,
    GalaxyAttribute,
    GalaxyObject,
    Simulation,
)

__all__ = ["DEMO_DEPLOY_TIME", "demo_galaxy", "generate_galaxy"]

#: The demo Galaxy's deploy time: fixed, so that runs are reproducible.
DEMO_DEPLOY_TIME = dt.datetime(2026, 1, 5, 8, 30, tzinfo=dt.timezone.utc)


def _attr(name: str, data_type: int, **kwargs: Any) -> GalaxyAttribute:
    return GalaxyAttribute(attribute_name=name, mx_data_type=data_type, **kwargs)


def _sim(kind: str, **params: float) -> Simulation:
    return Simulation(kind, params)


def demo_galaxy() -> Galaxy:
    """A small water plant: areas, tanks, pumps, valves and a flow meter.

    Its attributes cover every data type of the contract, including arrays, a
    secured (``Pump_001.SpeedSetpoint``) and a verified (``Valve_001.Interlock``)
    attribute, historized and alarm-flagged ones; values move on deterministic
    schedules (ramps, sine waves, toggles, counters).
    """
    objects: list[GalaxyObject] = []
    next_id = iter(range(1, 10_000))

    def add(tag: str, parent: GalaxyObject | None, area: GalaxyObject | None, **kwargs: Any) -> GalaxyObject:
        obj = GalaxyObject(
            gobject_id=next(next_id),
            tag_name=tag,
            parent_gobject_id=parent.gobject_id if parent else 0,
            area_gobject_id=area.gobject_id if area else 0,
            **kwargs,
        )
        objects.append(obj)
        return obj

    def area(tag: str, parent: GalaxyObject | None) -> GalaxyObject:
        return add(
            tag,
            parent,
            parent,
            category_id=CATEGORY_AREA,
            is_area=True,
            template_chain=["$Area"],
            attributes=[_attr("Description", MX_STRING, initial_value=f"{tag} area")],
        )

    plant = area("WaterPlant", None)
    add(
        "AppEngine_001",
        plant,
        plant,
        category_id=CATEGORY_ENGINE,
        template_chain=["$AppEngine"],
        attributes=[
            _attr("ScanState", MX_BOOLEAN, initial_value=True),
            _attr("Heartbeat", MX_INTEGER, simulation=_sim("counter", start=0, step=1, period_s=1)),
            _attr("StartTime", MX_TIME, initial_value=DEMO_DEPLOY_TIME),
            _attr("UpTime", MX_ELAPSED_TIME, simulation=_sim("counter", start=0, step=1, period_s=1)),
        ],
    )
    intake = area("Intake", plant)
    treatment = area("Treatment", plant)
    for index, parent in ((1, intake), (2, treatment)):
        add(
            f"Tank_{index:03d}",
            parent,
            parent,
            contained_name=f"Tank{index}",
            template_chain=["$WaterTank", "$Tank", "$UserDefined"],
            attributes=[
                _attr(
                    "Level",
                    MX_DOUBLE,
                    is_historized=True,
                    is_alarm=True,
                    primitive_name="LevelPV",
                    simulation=_sim("sine", center=50 + 10 * index, amplitude=20, period_s=60),
                ),
                _attr("LevelHiLimit", MX_DOUBLE, initial_value=90.0, security_classification=SECURITY_TUNE),
                # Tank 2 starts with a standing high-level alarm, as a plant always has some.
                _attr(
                    "LevelHi",
                    MX_BOOLEAN,
                    is_alarm=True,
                    initial_value=index == 2,
                    alarms=[AlarmDefinition("DSC", severity=600, description="level high")],
                ),
                _attr(
                    "Temperature",
                    MX_FLOAT,
                    is_historized=True,
                    simulation=_sim("sine", center=12, amplitude=3, period_s=300),
                ),
                _attr("Volume", MX_INTEGER, simulation=_sim("ramp", start=1000, rate=5, low=0, high=5000)),
                _attr("Name", MX_STRING, initial_value=f"Raw water tank {index}"),
                _attr("Notes", MX_BIG_STRING, initial_value=""),
                _attr("DisplayName", MX_INTERNATIONALIZED_STRING, initial_value=f"Tank {index}"),
                _attr("LastFilled", MX_TIME, initial_value=DEMO_DEPLOY_TIME),
                _attr("FillDuration", MX_ELAPSED_TIME, initial_value=dt.timedelta(minutes=42)),
                _attr(
                    "LevelHistory",
                    MX_DOUBLE,
                    is_array=True,
                    array_dimension=5,
                    initial_value=[40.0, 42.5, 45.0, 47.5, 50.0],
                ),
                _attr("Calibration", MX_QUALIFIED_STRUCT, initial_value=b"\x01\x02cal"),
                _attr("Mode", MX_DATA_TYPE_ENUM, initial_value=1),
                _attr("Quality", MX_DATA_QUALITY, initial_value=192),
                _attr("Status", MX_STATUS, initial_value=b""),
                _attr("Source", MX_REFERENCE, initial_value="Intake.Source"),
                _attr("Classification", MX_SECURITY_CLASSIFICATION_ENUM, initial_value=SECURITY_OPERATE),
                _attr("State", MX_QUALIFIED_ENUM, initial_value=b"\x00"),
                _attr("Spare", MX_NO_DATA),
            ],
        )
        add(
            f"Pump_{index:03d}",
            parent,
            parent,
            contained_name=f"Pump{index}",
            template_chain=["$CentrifugalPump", "$Pump", "$UserDefined"],
            attributes=[
                _attr(
                    "Running", MX_BOOLEAN, is_historized=True, simulation=_sim("toggle", period_s=10 + index)
                ),
                _attr(
                    "Speed",
                    MX_FLOAT,
                    is_historized=True,
                    simulation=_sim("ramp", start=0, rate=2.5, low=0, high=100),
                ),
                _attr(
                    "SpeedSetpoint",
                    MX_FLOAT,
                    initial_value=75.0,
                    security_classification=SECURITY_SECURED_WRITE,
                ),
                _attr(
                    "Starts", MX_INTEGER, simulation=_sim("counter", start=100 * index, step=1, period_s=10)
                ),
                _attr("RunHours", MX_ELAPSED_TIME, initial_value=dt.timedelta(hours=1200 + index)),
                _attr(
                    "Fault",
                    MX_BOOLEAN,
                    is_alarm=True,
                    initial_value=index == 2,  # pump 2 has tripped: a standing alarm
                    alarms=[AlarmDefinition("DSC", severity=800, description="pump tripped")],
                ),
                _attr(
                    "Commands",
                    MX_STRING,
                    is_array=True,
                    array_dimension=3,
                    initial_value=["Start", "Stop", "Reset"],
                ),
                _attr(
                    "Serial",
                    MX_STRING,
                    initial_value=f"P-{index:05d}",
                    security_classification=SECURITY_VIEW_ONLY,
                ),
            ],
        )
        add(
            f"Valve_{index:03d}",
            parent,
            parent,
            contained_name=f"Valve{index}",
            template_chain=["$ControlValve", "$Valve", "$UserDefined"],
            attributes=[
                _attr(
                    "Position",
                    MX_DOUBLE,
                    is_historized=True,
                    simulation=_sim("sine", center=50, amplitude=50, period_s=120),
                ),
                _attr("Open", MX_BOOLEAN, simulation=_sim("toggle", period_s=15)),
                _attr(
                    "Interlock",
                    MX_BOOLEAN,
                    initial_value=index == 2,  # valve 2 is interlocked: a standing alarm
                    security_classification=SECURITY_VERIFIED_WRITE,
                    is_alarm=True,
                    alarms=[AlarmDefinition("DSC", severity=300, description="interlock engaged")],
                ),
                _attr("Counts", MX_INTEGER, is_array=True, array_dimension=4, initial_value=[0, 0, 0, 0]),
            ],
        )
    add(
        "FlowMeter_001",
        treatment,
        treatment,
        contained_name="FlowMeter1",
        template_chain=["$FlowMeter", "$UserDefined"],
        attributes=[
            _attr(
                "Flow",
                MX_DOUBLE,
                is_historized=True,
                is_alarm=True,
                simulation=_sim("sine", center=120, amplitude=30, period_s=45),
            ),
            _attr(
                "Total",
                MX_DOUBLE,
                is_historized=True,
                simulation=_sim("ramp", start=0, rate=2, low=0, high=1e9),
            ),
            _attr("Pulses", MX_INTEGER, simulation=_sim("counter", start=0, step=7, period_s=1)),
            _attr("Units", MX_STRING, initial_value="m3/h"),
            _attr("LastReset", MX_TIME, initial_value=DEMO_DEPLOY_TIME),
        ],
    )
    return Galaxy(objects, name="demo-water-plant", time_of_last_deploy=DEMO_DEPLOY_TIME)


def generate_galaxy(object_count: int, *, seed: int = 1, attributes_per_object: int = 4) -> Galaxy:
    """A large synthetic Galaxy for performance work: areas of 100 objects each.

    Deterministic for a given ``seed``; ``object_count`` counts every object,
    areas included.
    """
    rng = random.Random(seed)
    objects: list[GalaxyObject] = []
    kinds = [
        ("Double", MX_DOUBLE, ["$Analog", "$UserDefined"]),
        ("Integer", MX_INTEGER, ["$Counter", "$UserDefined"]),
        ("Boolean", MX_BOOLEAN, ["$Discrete", "$UserDefined"]),
    ]
    area_size = 100
    current_area: GalaxyObject | None = None
    for gobject_id in range(1, object_count + 1):
        if current_area is None or (gobject_id - current_area.gobject_id) > area_size:
            current_area = GalaxyObject(
                gobject_id=gobject_id,
                tag_name=f"Area_{gobject_id:06d}",
                category_id=CATEGORY_AREA,
                is_area=True,
                template_chain=["$Area"],
            )
            objects.append(current_area)
            continue
        name, data_type, chain = kinds[rng.randrange(len(kinds))]
        attributes = [
            GalaxyAttribute(
                attribute_name=f"{name}{n}",
                mx_data_type=data_type,
                is_historized=n == 0,
                is_alarm=n == 1 and data_type == MX_BOOLEAN,
                simulation=Simulation("ramp", {"start": float(n), "rate": 1.0, "low": 0.0, "high": 1000.0})
                if data_type != MX_BOOLEAN
                else Simulation("toggle", {"period_s": 5.0 + n}),
            )
            for n in range(attributes_per_object)
        ]
        objects.append(
            GalaxyObject(
                gobject_id=gobject_id,
                tag_name=f"Obj_{gobject_id:06d}",
                parent_gobject_id=current_area.gobject_id,
                area_gobject_id=current_area.gobject_id,
                template_chain=list(chain),
                attributes=attributes,
            )
        )
    return Galaxy(objects, name=f"generated-{object_count}", time_of_last_deploy=DEMO_DEPLOY_TIME)
